// `coffeetl upload`: branch files into the raw bucket with a branch's upload profile, against the
// in-memory S3 (tests/fixtures/aws/fake-s3.ts) and a mocked SSM; usage checked on the real CLI.
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { GetParameterCommand, ParameterNotFound, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseCommandLine } from "../cli/args.js";
import { parseUploadProfile, readProfile, uploadFiles, type UploadReport } from "../cli/upload.js";
import { clearParameterCache } from "../functions/aws/ssm.js";
import { FakeS3 } from "./fixtures/aws/fake-s3.js";
import { ROOT, fixture, runCoffeetlSync, tempDir } from "./helpers.js";

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const PROFILE = {
  bucket: "coffeetl-acme-prod-raw-1",
  prefix: "uploads/leeds/",
  region: "eu-west-2",
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: SECRET,
};
const s3 = new FakeS3();
const ssm = mockClient(SSMClient);
ssm.on(GetParameterCommand, { Name: "/coffeetl/acme-prod/uploaders/leeds", WithDecryption: true }).resolves({ Parameter: { Value: JSON.stringify(PROFILE) } });
ssm.on(GetParameterCommand, { Name: "/coffeetl/acme-prod/uploaders/york" }).rejects(new ParameterNotFound({ message: "not found", $metadata: {} }));
const dir = await tempDir();

test("a profile's shape is checked; errors name the field and never show the secret", () => {
  assert.equal(parseUploadProfile(JSON.stringify(PROFILE), "leeds.json"), PROFILE);
  const bad = (change: Record<string, unknown>) => {
    try {
      parseUploadProfile(JSON.stringify({ ...PROFILE, ...change }), "leeds.json");
    } catch (error) {
      const message = (error as Error).message;
      assert.not.ok(message.includes(SECRET), "secret in an error message");
      return message;
    }
    throw new Error("accepted");
  };
  assert.match(bad({ prefix: "uploads/leeds" }), /leeds\.json: "prefix" must end with "\/"/);
  assert.match(bad({ region: "London" }), /"region" is not an AWS region/);
  assert.match(bad({ secretAccessKey: undefined }), /"secretAccessKey" is missing/);
  assert.match(bad({ accessKeyId: SECRET }), /"accessKeyId" is not an AWS access key id/);
  assert.throws(() => parseUploadProfile("{not json", "x.json"), /x\.json: not valid JSON/);
});

test("files go to <prefix><name> byte for byte, multipart when large; bad files are reported and the rest still go", async () => {
  const big = join(dir.path, "leeds_2024-03-01.csv");
  writeFileSync(big, Buffer.alloc(9 * 1024 * 1024, "01/03/2024 09:00,Leeds,A B,Regular Tea - 1.20,1.2,CASH,\n"));
  const upper = join(dir.path, "LEEDS.CSV");
  writeFileSync(upper, readFileSync(fixture("canonical.csv")));
  const notes = join(dir.path, "notes.txt");
  writeFileSync(notes, "hello");
  const seen: UploadReport[] = [];
  const reports = await uploadFiles(
    PROFILE,
    [fixture("canonical.csv"), big, upper, notes, join(dir.path, "gone.csv"), join(ROOT, "tests/fixtures/aws/../raw/canonical.csv")],
    {
      onReport: (r) => seen.push(r),
    },
  );
  assert.equal(seen, reports, "reported as each file finishes, in order");
  assert.equal(
    reports.map((r) => [r.key, r.ok]),
    [
      ["uploads/leeds/canonical.csv", true],
      ["uploads/leeds/leeds_2024-03-01.csv", true],
      ["uploads/leeds/LEEDS.CSV", true],
      ["uploads/leeds/notes.txt", false],
      ["uploads/leeds/gone.csv", false],
      ["uploads/leeds/canonical.csv", false],
    ],
  );
  assert.match(reports[3]!.error!, /not a \.csv file/);
  assert.match(reports[4]!.error!, /no such file/);
  assert.match(reports[5]!.error!, /same file name as .*canonical\.csv/);
  assert.ok(s3.text(PROFILE.bucket, "uploads/leeds/canonical.csv") === readFileSync(fixture("canonical.csv"), "utf8"));
  const stored = s3.objects.get(`${PROFILE.bucket}/uploads/leeds/leeds_2024-03-01.csv`)!;
  assert.ok(stored.multipart, "a 9 MB file goes in parts");
  assert.ok(stored.body.equals(readFileSync(big)));
  assert.is(stored.contentType, "text/csv");
  assert.equal(
    s3.keys(PROFILE.bucket).filter((k) => !k.startsWith(PROFILE.prefix)),
    [],
    "nothing outside the prefix",
  );
  assert.ok(reports[0]!.versionId, "the new object version is reported");
});

test("an upload refused by S3 is explained (the credentials' prefix), and the others still go", async () => {
  s3.mock.on(PutObjectCommand, { Key: "uploads/leeds/york.csv" }).rejects(Object.assign(new Error("Access Denied"), { name: "AccessDenied" }));
  const york = join(dir.path, "york.csv");
  writeFileSync(york, "x\n");
  const [denied, ok] = await uploadFiles(PROFILE, [york, fixture("legacy_crlf.csv")]);
  assert.is(denied!.ok, false);
  assert.match(denied!.error!, /access denied: these credentials may only write under s3:\/\/coffeetl-acme-prod-raw-1\/uploads\/leeds\//);
  assert.is(ok!.ok, true);
});

test("the profile comes from a file, or from the stack's SSM parameter with the operator's login", async () => {
  const file = join(dir.path, "leeds.json");
  writeFileSync(file, JSON.stringify(PROFILE));
  chmodSync(file, 0o600);
  const ctx = (args: string[]) => parseCommandLine(["upload", "x.csv", ...args]).ctx!;
  assert.equal((await readProfile(ctx(["--credentials", file]))).profile, PROFILE);
  clearParameterCache();
  const fromSsm = await readProfile(ctx(["--stack", "acme-prod", "--uploader", "leeds", "--region", "eu-west-2"]));
  assert.equal(fromSsm.profile, PROFILE);
  assert.is(fromSsm.source, "SSM parameter /coffeetl/acme-prod/uploaders/leeds");
  await readProfile(ctx(["--stack", "acme-prod", "--uploader", "york", "--region", "eu-west-2"])).then(
    () => assert.unreachable(),
    (error: Error) => assert.match(error.message, /SSM parameter "\/coffeetl\/acme-prod\/uploaders\/york" does not exist .*check --stack and --uploader/),
  );
  await readProfile(ctx(["--credentials", file, "--stack", "acme-prod"])).then(
    () => assert.unreachable(),
    (error: Error) => assert.match(error.message, /not both/),
  );
});

test("the real CLI: a bad profile fails with the field named and no secret shown; a missing one is a usage error", () => {
  const file = join(dir.path, "bad.json");
  writeFileSync(file, JSON.stringify({ ...PROFILE, prefix: "uploads/leeds" }), { mode: 0o644 });
  chmodSync(file, 0o644);
  const r = runCoffeetlSync(["upload", fixture("canonical.csv"), "--credentials", file]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /bad\.json is readable by other users; chmod 600 it/);
  assert.match(r.stderr, /bad\.json: "prefix" must end with "\/"/);
  assert.not.ok((r.stdout + r.stderr).includes(SECRET));
  const none = runCoffeetlSync(["upload", fixture("canonical.csv"), "--stack", "acme-prod"]);
  assert.is(none.status, 2);
  assert.match(none.stderr, /upload needs --credentials FILE \(an upload profile\), or --stack STACK --uploader NAME/);
});

test.after(() => dir.remove());
test.run();
