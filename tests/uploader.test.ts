// The branch manager's uploader: dist/coffeetl-upload.mjs (scripts/build-uploader.js), copied alone
// into an empty folder outside the repository and run with plain `node` (no node_modules, no
// package.json, nothing of the clone), against a stand-in S3 (moto).
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ROOT, fixture, tempDir } from "./helpers.js";

const hasMoto = spawnSync("python3", ["-c", "import moto.server"]).status === 0;
if (!hasMoto) console.log("[skip] the uploader against a stand-in S3: moto is not installed (pip install 'moto[server]')");

const BUCKET = "coffeetl-acme-prod-raw-1";
const dir = await tempDir("coffeetl-uploader-");
const alone = join(dir.path, "branch-laptop");
mkdirSync(alone);

test("the uploader builds into one file", () => {
  const build = spawnSync(process.execPath, [join(ROOT, "scripts/build-uploader.js"), join(dir.path, "build", "coffeetl-upload.mjs")], { encoding: "utf8" });
  assert.is(build.status, 0, build.stderr);
  copyFileSync(join(dir.path, "build", "coffeetl-upload.mjs"), join(alone, "coffeetl-upload.mjs"));
  assert.equal(readdirSync(alone), ["coffeetl-upload.mjs"], "nothing else beside it");
});

/** Plain node in the empty folder: no NODE_PATH, no NODE_OPTIONS, HOME there too. */
const uploader = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ["coffeetl-upload.mjs", ...args], {
    cwd: alone,
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: alone, ...env },
  });

const noWarnings = (stderr: string) => {
  if (Number(process.versions.node.split(".")[0]) >= 22) assert.not.match(stderr, /Warning|deprecat/i, "no deprecation warning on Node 22");
};

test("--help and --check need nothing but node: the pipeline's transform runs in the file", () => {
  const help = uploader(["--help"]);
  assert.is(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: node coffeetl-upload\.mjs FILE\|FOLDER\.\.\./);
  const day = join(alone, "tills");
  mkdirSync(day);
  copyFileSync(fixture("canonical.csv"), join(day, "2024-03-01.csv"));
  copyFileSync(fixture("broken_rows.csv"), join(day, "2024-03-02.CSV"));
  copyFileSync(fixture("not_csv.csv"), join(day, "2024-03-03.csv"));
  writeFileSync(join(day, "notes.txt"), "not a till file");
  const check = uploader(["--check", "tills"]);
  assert.is(check.status, 1, check.stdout + check.stderr);
  assert.match(check.stdout, /✔ tills\/2024-03-01\.csv: 5 rows read, 5 sales, 0 rejected, 0 warnings/);
  assert.match(check.stdout, /✔ tills\/2024-03-02\.CSV: 8 rows read, 3 sales, 5 rejected, 1 warnings\n  rejected line 2: expected 7 columns, found 6/);
  assert.match(check.stdout, /✘ tills\/2024-03-03\.csv: the pipeline would fail it: binary content/);
  assert.match(check.stdout, /3 files checked: 2 would load, 1 would fail\. Nothing was sent\./);
  assert.not.match(check.stdout, /notes\.txt/);
  noWarnings(check.stderr);
});

test("uploads to the stand-in S3 with the branch's credentials file: a folder's .csv files, a file the pipeline would fail is not sent", async () => {
  if (!hasMoto) return;
  const moto = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  try {
    const port = await new Promise<string>((resolve, reject) => {
      let err = "";
      const timer = setTimeout(() => reject(new Error(`moto did not start: ${err}`)), 60_000);
      moto.stderr.on("data", (d) => {
        err += d;
        const m = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    const endpoint = `http://127.0.0.1:${port}`;
    const s3 = new S3Client({ region: "eu-west-2", endpoint, forcePathStyle: true, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: "eu-west-2" } }));
    const credentials = join(alone, "leeds.json");
    writeFileSync(
      credentials,
      JSON.stringify({
        bucket: BUCKET,
        prefix: "uploads/leeds/",
        region: "eu-west-2",
        accessKeyId: "AKIAIOSFODNN7EXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      }),
    );
    chmodSync(credentials, 0o600);
    const env = { AWS_ENDPOINT_URL: endpoint };
    const sent = uploader(["--credentials", "leeds.json", "tills"], env);
    assert.is(sent.status, 1, "one file refused: " + sent.stdout + sent.stderr);
    assert.match(sent.stdout, /✘ tills\/2024-03-03\.csv: not sent: the pipeline would fail it: binary content/);
    assert.match(sent.stdout, /✔ tills\/2024-03-01\.csv → s3:\/\/coffeetl-acme-prod-raw-1\/uploads\/leeds\/2024-03-01\.csv/);
    assert.match(sent.stdout, /3 files: 2 uploaded, 1 failed/);
    noWarnings(sent.stderr);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    assert.equal((listed.Contents ?? []).map((o) => o.Key).sort(), ["uploads/leeds/2024-03-01.csv", "uploads/leeds/2024-03-02.CSV"]);
    const body = await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "uploads/leeds/2024-03-01.csv" }))).Body!.transformToByteArray();
    assert.ok(Buffer.from(body).equals(readFileSync(fixture("canonical.csv"))), "byte for byte");
    const one = uploader(["--credentials", "leeds.json", "tills/2024-03-01.csv"], env);
    assert.is(one.status, 0, one.stdout + one.stderr);
    assert.match(one.stdout, /1 file: 1 uploaded, 0 failed/);
    assert.not.match(sent.stdout + sent.stderr + one.stdout + one.stderr, /wJalrXUtnFEMI/, "the secret is never printed");
    s3.destroy();
  } finally {
    moto.kill();
  }
});

test("no instruction anywhere fetches coffeetl from the registry", () => {
  const docs = ["README.md", ...readdirSync(join(ROOT, "docs")).map((f) => `docs/${f}`), "grafana/lib/preview-client.js", "cli/demo.ts"];
  for (const doc of docs) {
    const text = readFileSync(join(ROOT, doc), "utf8");
    const bad = text
      .split("\n")
      .filter((l) => /npx\s+coffeetl/.test(l) && !/^Never `npx coffeetl`|never\s*$|`npx coffeetl` \(which would fetch/.test(l.trim()));
    assert.equal(bad, [], `${doc} tells someone to run npx coffeetl`);
  }
  assert.ok(existsSync(join(ROOT, "scripts/build-uploader.js")));
});

test.after(() => dir.remove());
test.run();
