// One failure path (functions/app/transform-failure.ts): a transform failure is written as failed.json
// by the same code on AWS (the extract-transform handler) and locally (`coffeetl ingest`'s pipeline),
// read back by the same reader, and recorded in file_outcomes from what was written. A refused raw
// key (a control character, too long for its outputs) is refused in one place with one layout.
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import type { Context, S3Event } from "aws-lambda";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { failureKeyOf, readFailure, type TransformFailure } from "../functions/app/transform-failure.js";
import { S3Storage } from "../functions/aws/s3-storage.js";
import { openLocalPipeline, type LocalPipeline } from "../functions/local/pipeline.js";
import { captureOutput } from "./fixtures/aws/capture.js";
import { FakeS3, lambdaContext, s3Event } from "./fixtures/aws/fake-s3.js";
import { dayFile } from "./day-file.js";
import { tempDir } from "./helpers.js";

const RAW = "coffeetl-raw-failure";
const OUT = "coffeetl-transformed-failure";
const SECRET_PARAM = "/coffeetl/test/failure-secret";
process.env.AWS_REGION = "eu-west-1";
process.env.TRANSFORMED_BUCKET = OUT;
process.env.TRANSACTION_ID_KEY_PARAMETER = SECRET_PARAM;
process.env.COFFEETL_TRANSACTION_KEY = "failure-test-key-0123456789abcdef";

const s3 = new FakeS3();
mockClient(SSMClient)
  .on(GetParameterCommand, { Name: SECRET_PARAM })
  .resolves({ Parameter: { Name: SECRET_PARAM, Type: "SecureString", Value: "failure-test-key-0123456789abcdef" } });
const capture = captureOutput();
const { handler } = await import("../functions/extract-transform/handler.js");
const context = lambdaContext() as unknown as Context;
const transformedOnS3 = new S3Storage(new S3Client({}), OUT);

const ZIP = Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x01, 0x02]);
const sha256 = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");
/** A failure's fields and their types: what both targets must write alike. */
const shape = (f: TransformFailure) => JSON.stringify({ source: Object.keys(f.source), top: Object.keys(f), reason: f.reason });

async function withHome(run: (local: LocalPipeline, files: string) => Promise<void>): Promise<void> {
  const dir = await tempDir();
  const local = await openLocalPipeline({ home: join(dir.path, "home"), waitMs: 0 });
  try {
    const files = join(dir.path, "files");
    mkdirSync(files);
    await run(local, files);
  } finally {
    await local.close();
    await dir.remove();
  }
}

interface OutcomeRow {
  source_key: string;
  source_sha256: string | null;
  stage: string;
  outcome: string;
  reason: string;
  recorded_at: string;
}
const outcomesOf = (local: LocalPipeline, key: string) =>
  local.warehouse.query<OutcomeRow>(
    `SELECT source_key, source_sha256, stage, outcome, reason, CAST(recorded_at AS TEXT) AS recorded_at FROM file_outcomes WHERE source_key = '${key}'`,
  );
/** recorded_at as the warehouse gives it back, from failed.json's failedAt. */
const asRecorded = (iso: string) =>
  iso
    .replace("T", " ")
    .replace("Z", "")
    .replace(/\.?0+$/, "");

test("an unreadable file: one failed.json on each target, read back through the shared reader with the same fields, recorded from it", async () => {
  // AWS: the handler's event fails (so it reaches the DLQ) after writing failed.json.
  const awsKey = "uploads/broken/day.csv";
  s3.putText(RAW, awsKey, ZIP);
  await handler(s3Event(RAW, awsKey) as unknown as S3Event, context).then(
    () => assert.unreachable("an unreadable file fails its event"),
    (e: Error) => assert.match(e.message, /UnreadableFileError/),
  );
  const awsFailure = await readFailure(transformedOnS3, failureKeyOf(awsKey, sha256(ZIP)));
  assert.is(awsFailure.source.key, awsKey);
  assert.is(awsFailure.source.sha256, sha256(ZIP));

  await withHome(async (local, files) => {
    const path = join(files, "day.csv");
    writeFileSync(path, ZIP);
    const [report] = await local.ingest([path]);
    assert.not.ok(report!.ok);
    const localFailure = await readFailure(local.transformed, failureKeyOf(report!.key, sha256(ZIP)));
    assert.is(localFailure.source.key, report!.key);
    assert.is(shape(localFailure), shape(awsFailure), "the same fields and reason on both targets");
    assert.is(report!.error, localFailure.reason);
    // Recorded from the failed.json, as the load records it on AWS: its hash and its time.
    const rows = await outcomesOf(local, report!.key);
    assert.is(rows.length, 1, JSON.stringify(rows));
    assert.equal(
      [rows[0]!.stage, rows[0]!.outcome, rows[0]!.reason, rows[0]!.source_sha256, asRecorded(rows[0]!.recorded_at)],
      ["transform", "failed", localFailure.reason, sha256(ZIP), asRecorded(localFailure.failedAt!)],
    );
  });
});

test("a refused raw key: refused by transformObject on both targets, one `_refused/` layout, read back alike, never thrown", async () => {
  const body = dayFile(5);
  // A control character (S3 keys may hold one) and a key too long for its outputs' keys.
  const awsKeys = ["uploads/leeds\nday.csv", `uploads/${"d".repeat(1000)}/day.csv`];
  const awsFailures: TransformFailure[] = [];
  for (const key of awsKeys) {
    s3.putText(RAW, key, body);
    const summary = await handler(s3Event(RAW, key) as unknown as S3Event, context);
    assert.equal(summary, { transformed: 0, alreadyTransformed: 0, skipped: 0, refused: 1 }, key);
    const failureKey = failureKeyOf(key, sha256(body), true);
    assert.ok(failureKey.startsWith("_refused/") && failureKey.length < 100, failureKey);
    awsFailures.push(await readFailure(transformedOnS3, failureKey));
  }
  assert.match(awsFailures[0]!.reason, /the file name holds a control character/);
  assert.match(awsFailures[1]!.reason, /S3 keys are at most 1024/);

  await withHome(async (local, files) => {
    const newline = join(files, "leeds\nday.csv");
    const deep = join(files, ...Array.from({ length: 6 }, (_, i) => `${i}`.padEnd(200, "x")));
    mkdirSync(deep, { recursive: true });
    const long = join(deep, "day.csv");
    for (const path of [newline, long]) writeFileSync(path, body);
    const reports = await local.ingest([newline, long]);
    const failedAt: string[] = [];
    for (const [i, report] of reports.entries()) {
      assert.not.ok(report.ok);
      const failure = await readFailure(local.transformed, failureKeyOf(report.key, sha256(body), true));
      assert.is(shape(failure), shape(awsFailures[i]!).replace(/raw key is \d+ bytes/, `raw key is ${Buffer.byteLength(report.key)} bytes`));
      assert.is(report.error, failure.reason);
      failedAt.push(asRecorded(failure.failedAt!));
    }
    // Recorded from the failed.json files: the content's hash and each failure's own time.
    const rows = await local.warehouse.query<OutcomeRow>(
      `SELECT outcome, source_sha256, CAST(recorded_at AS TEXT) AS recorded_at FROM file_outcomes WHERE outcome = 'failed' ORDER BY recorded_at`,
    );
    assert.equal(
      rows.map((r) => [r.outcome, r.source_sha256, asRecorded(r.recorded_at)]),
      failedAt.sort().map((at) => ["failed", sha256(body), at]),
    );
  });
});

test.after(() => {
  capture.stop();
  delete process.env.COFFEETL_TRANSACTION_KEY;
});
test.run();
