// The load handler when the invocation's time runs out, against the Data API stand-in made slow (each
// DescribeStatement costs simulated minutes of the invocation's clock): a batch cancelled for time is
// not split and records no `failed` outcome; every message comes back as an item failure, made
// visible again after RETRY_SOON_SECONDS; on the next delivery every file loads. A batch that would
// not fit in the time left does not start.
import { readFileSync } from "node:fs";
import { BatchExecuteStatementCommand, CancelStatementCommand, ExecuteStatementCommand } from "@aws-sdk/client-redshift-data";
import { ChangeMessageVisibilityBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import type { Context, SQSEvent } from "aws-lambda";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { captureOutput } from "./fixtures/aws/capture.js";
import { FakeRedshift } from "./fixtures/aws/fake-redshift.js";
import { FakeS3, lambdaContext, s3Event } from "./fixtures/aws/fake-s3.js";
import { sqsEvent, sqsRecord } from "./fixtures/aws/sqs.js";

const RAW = "coffeetl-raw-timeout";
const OUT = "coffeetl-transformed-timeout";
const N = 6;
process.env.AWS_REGION = "eu-west-1";
process.env.TRANSFORMED_BUCKET = OUT;
process.env.TRANSACTION_ID_KEY_PARAMETER = "/coffeetl/timeout/transaction-secret";
process.env.WAREHOUSE_PARAMETER_NAME = "/coffeetl/timeout/redshift";

const s3 = new FakeS3();
const ssm = mockClient(SSMClient);
ssm.on(GetParameterCommand, { Name: process.env.TRANSACTION_ID_KEY_PARAMETER }).resolves({ Parameter: { Value: "timeout-hmac-key-0123456789abcdef" } });
ssm.on(GetParameterCommand, { Name: process.env.WAREHOUSE_PARAMETER_NAME }).resolves({
  Parameter: { Value: JSON.stringify({ workgroupName: "coffeetl-wg", database: "coffee", copyRoleArn: "arn:aws:iam::123456789012:role/copy" }) },
});
const sqs = mockClient(SQSClient);
sqs.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
let redshift = new FakeRedshift();
redshift.runningPolls = 0;

const capture = captureOutput();
const transform = (await import("../functions/extract-transform/handler.js")).handler;
const { handler: load, RETRY_SOON_SECONDS, queueUrlOf } = await import("../functions/load/handler.js");

const fixture = readFileSync(new URL("./fixtures/aws/leeds-raw.csv", import.meta.url), "utf8");
const manifests: string[] = [];
for (let i = 0; i <= N; i++) {
  const key = `uploads/branch-${i}/2024-05-01.csv`;
  s3.putText(RAW, key, fixture.replace(/Leeds/g, `Branch ${i}`));
  await transform(s3Event(RAW, key) as never, lambdaContext() as unknown as Context);
  manifests.push(s3.keys(OUT).find((k) => k.startsWith(`uploads/branch-${i}/`) && k.endsWith("/manifest.json"))!);
}
const [warmUp, ...batch] = manifests;

/** A Lambda context on a simulated clock that the slow warehouse advances. */
let elapsedMs = 0;
const slowContext = (timeoutMs: number) => ({ ...lambdaContext(timeoutMs), getRemainingTimeInMillis: () => timeoutMs - elapsedMs }) as unknown as Context;
const records = batch.map((key) => sqsRecord(s3Event(OUT, key)));
const event = sqsEvent(records) as SQSEvent;
const sent = () => ({
  batches: redshift.mock.commandCalls(BatchExecuteStatementCommand).length,
  statements: redshift.mock.commandCalls(ExecuteStatementCommand).length,
  failedOutcomes: redshift.mock
    .commandCalls(ExecuteStatementCommand)
    .map((c) => c.args[0].input.Sql ?? "")
    .filter((q) => q.startsWith("INSERT INTO file_outcomes") && q.includes("'failed'")),
});

test("warm container: the schema is ready and one file loads", async () => {
  const response = await load(sqsEvent([sqsRecord(s3Event(OUT, warmUp!))]) as SQSEvent, lambdaContext() as unknown as Context);
  assert.equal(response.batchItemFailures, []);
  assert.is(redshift.loads.size, 1);
});

test("a batch of N that cannot finish in time: cancelled once, not split, no failed outcome, all returned and visible again soon", async () => {
  redshift.mock.restore();
  redshift = new FakeRedshift();
  redshift.runningPolls = Infinity; // the warehouse is slow: each poll costs two minutes
  redshift.onPoll = () => void (elapsedMs += 120_000);
  elapsedMs = 0;
  sqs.resetHistory();
  const response = await load(event, slowContext(600_000));
  assert.equal(response.batchItemFailures.map((f) => f.itemIdentifier).sort(), records.map((r) => r.messageId).sort(), "every message returned");
  const s = sent();
  assert.is(s.batches, 1, "one transaction submitted, never split in halves");
  assert.ok(s.batches + s.statements < 2 * N, `${s.batches + s.statements} statements for a batch of ${N}`);
  assert.is(redshift.mock.commandCalls(CancelStatementCommand).length, 1);
  assert.equal(s.failedOutcomes, [], "no good file recorded as failed");
  assert.is(redshift.loads.size, 0);
  const calls = sqs.commandCalls(ChangeMessageVisibilityBatchCommand).map((c) => c.args[0].input);
  assert.ok(calls.every((c) => c.QueueUrl === "https://sqs.eu-west-1.amazonaws.com/123456789012/coffeetl-test-load"));
  const entries = calls.flatMap((c) => c.Entries ?? []);
  assert.equal(entries.map((e) => e.ReceiptHandle).sort(), records.map((r) => r.receiptHandle).sort());
  assert.ok(entries.every((e) => e.VisibilityTimeout === RETRY_SOON_SECONDS && RETRY_SOON_SECONDS <= 60));
  const done = capture
    .lines()
    .filter((l) => l.message === "batch done")
    .at(-1)!;
  assert.equal([done.failedManifests, done.deferredManifests], [0, N]);
});

test("the next delivery loads every file", async () => {
  redshift.mock.restore();
  redshift = new FakeRedshift();
  redshift.runningPolls = 0;
  const response = await load(event, lambdaContext() as unknown as Context);
  assert.equal(response.batchItemFailures, []);
  assert.is(redshift.loads.size, N);
  assert.equal(sent().failedOutcomes, []);
});

test("no batch starts without time for it: the first takes 400 s of 600, the second is returned untried", async () => {
  process.env.LOAD_MANIFESTS_PER_TRANSACTION = String(N / 2);
  redshift.mock.restore();
  redshift = new FakeRedshift();
  redshift.runningPolls = 3;
  // Only the load's own transaction takes time here (its line notes, a small transaction after it, do not).
  redshift.onPoll = (id) => void (redshift.statements.get(id)?.sqls.some((q) => q.startsWith("COPY stage_")) && (elapsedMs += 100_000));
  elapsedMs = 0;
  sqs.resetHistory();
  const fresh = batch.map((key) => sqsRecord(s3Event(OUT, key)));
  try {
    const response = await load(sqsEvent(fresh) as SQSEvent, slowContext(600_000));
    assert.is(redshift.loadBatches().length, 1, "only the first batch started");
    assert.is(redshift.loads.size, N / 2);
    assert.equal(
      response.batchItemFailures.map((f) => f.itemIdentifier),
      fresh.slice(N / 2).map((r) => r.messageId),
    );
    assert.equal(sent().failedOutcomes, []);
    assert.is(sqs.commandCalls(ChangeMessageVisibilityBatchCommand).flatMap((c) => c.args[0].input.Entries ?? []).length, N / 2);
  } finally {
    delete process.env.LOAD_MANIFESTS_PER_TRANSACTION;
  }
});

test("queue URL of a queue ARN, China partition included", () => {
  assert.is(queueUrlOf("arn:aws:sqs:eu-west-2:111122223333:coffeetl-acme-load"), "https://sqs.eu-west-2.amazonaws.com/111122223333/coffeetl-acme-load");
  assert.is(queueUrlOf("arn:aws-cn:sqs:cn-north-1:111122223333:q"), "https://sqs.cn-north-1.amazonaws.com.cn/111122223333/q");
});

test.run();
