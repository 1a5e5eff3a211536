// `coffeetl upload` as the README writes it, against moto with its IAM enforcement on and the upload
// identity's own policy (infra/upload-identities.ts); a failing part injected by a loopback proxy.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { HeadObjectCommand, ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BASE_CONFIG, createMotoStack, motoMissing, startMoto } from "./fixtures/aws/moto.js";
import { startProxy } from "./fixtures/aws/proxy.js";
import { fixture, runCoffeetl, tempDir } from "./helpers.js";

const missing = motoMissing();
if (missing) {
  console.log(`[skip] moto suites: ${missing}`);
  test.skip("upload against moto", () => {});
  test.run();
} else {
  await suite();
}

async function suite() {
  // IAM enforced after three requests: the fixture's admin user, its policy and its key.
  const moto = await startMoto({ noAuthActions: 3 });
  const stack = await createMotoStack(BASE_CONFIG, { iam: true });
  const proxy = await startProxy(moto.port);
  const dir = await tempDir();
  const s3 = new S3Client({});

  /** The CLI as the README runs it, its AWS calls through the proxy. */
  const coffeetl = (args: string[]) => runCoffeetl(args, { cwd: dir.path, env: { ...process.env, AWS_ENDPOINT_URL: proxy.endpoint, NO_COLOR: "1" } });
  const profile = (name: string, change: Record<string, string> = {}) => {
    const file = join(dir.path, `${name}-${Object.keys(change).join("-") || "profile"}.json`);
    writeFileSync(file, JSON.stringify({ ...stack.profiles[name], ...change }), { mode: 0o600 });
    return file;
  };

  test("upload: a branch's file goes under its own prefix; another branch's prefix is refused by IAM", async () => {
    const ok = await coffeetl(["upload", "--credentials", profile("leeds"), fixture("canonical.csv")]);
    assert.is(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /✔ .*canonical\.csv → s3:\/\/.*\/uploads\/leeds\/canonical\.csv/);
    assert.match(ok.stdout, /1 uploaded, 0 failed\. Uploaded files are transformed and loaded within minutes\./);
    const stored = await s3.send(new HeadObjectCommand({ Bucket: stack.rawBucket, Key: "uploads/leeds/canonical.csv" }));
    assert.ok(stored.VersionId);

    const denied = await coffeetl(["upload", "--credentials", profile("leeds", { prefix: "uploads/york/" }), fixture("canonical.csv")]);
    assert.is(denied.status, 1);
    assert.match(denied.stdout, /✘ .*canonical\.csv: access denied/);
    assert.match(denied.stdout, /1 file: 0 uploaded, 1 failed\. Nothing was uploaded\./);
    assert.not.match(denied.stdout, /within minutes/, "no success line when nothing went");
  });

  test("upload: a part that fails is reported as that failure, and the parts sent are removed (the abort is allowed)", async () => {
    const big = join(dir.path, "2024-05-01.csv");
    const line = '01/05/2024 08:01,Leeds,Zebedee Quillfeather,"Regular Latte - 2.15",2.15,CARD,4929111122223333\n';
    writeFileSync(big, line.repeat(Math.ceil((17 * 1024 * 1024) / line.length)));
    proxy.fault = (r) =>
      r.method === "PUT" && /[?&]partNumber=2(&|$)/.test(r.url)
        ? { status: 500, body: "<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>" }
        : undefined;
    const r = await coffeetl(["upload", "--credentials", profile("leeds"), big]);
    proxy.fault = () => undefined;
    assert.is(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /✘ .*2024-05-01\.csv: a part of the upload failed: We encountered an internal error/);
    assert.match(r.stdout, /nothing was stored \(the parts sent were removed\)/);
    assert.not.match(r.stdout, /access denied|revoked/i, "never reported as revoked credentials");
    const aborts = proxy.requests.filter((q) => q.method === "DELETE" && /uploadId=/.test(q.url));
    assert.is(aborts.length, 1);
    const left = await s3.send(new ListMultipartUploadsCommand({ Bucket: stack.rawBucket }));
    assert.is(left.Uploads?.length ?? 0, 0, "no parts wait for the lifecycle rule");
  });

  test.after(async () => {
    await proxy.close();
    await moto.stop();
    await dir.remove();
  });
  test.run();
}
