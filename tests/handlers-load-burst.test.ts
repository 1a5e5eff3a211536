// A morning burst through the load queue: 500 branch files transformed by the extract-transform
// handler, their 500 manifest events queued, and the load handler driven by a queue with SQS's
// redrive semantics (batches of 100, maxReceiveCount 3), against the Data API stand-in, which reads
// the COPY manifests and table files from the in-memory S3 as Redshift would. One file is bad (a
// transactions row with a column too many): its COPY fails, the batch is split until it is alone,
// only its message is reported failed; it is received again, fails again, and is parked in the DLQ.
// Counts what reaches Redshift: transactions (BatchExecuteStatement), statements, COPYs.
import { readFileSync } from "node:fs";
import { BatchExecuteStatementCommand, ExecuteStatementCommand } from "@aws-sdk/client-redshift-data";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import type { Context } from "aws-lambda";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { captureOutput } from "./fixtures/aws/capture.js";
import { FakeRedshift } from "./fixtures/aws/fake-redshift.js";
import { FakeS3, lambdaContext, s3Record } from "./fixtures/aws/fake-s3.js";
import { FakeQueue } from "./fixtures/aws/sqs.js";

const RAW = "coffeetl-raw-burst";
const OUT = "coffeetl-transformed-burst";
const FILES = 500;
const BATCH_SIZE = 100; // coffeetl:loadBatchSize default
const MAX_RECEIVES = 3; // coffeetl:loadMaxReceives default
process.env.AWS_REGION = "eu-west-1";
process.env.TRANSFORMED_BUCKET = OUT;
process.env.TRANSACTION_ID_KEY_PARAMETER = "/coffeetl/burst/transaction-secret";
process.env.WAREHOUSE_PARAMETER_NAME = "/coffeetl/burst/redshift";
process.env.LOAD_MANIFESTS_PER_TRANSACTION = "100"; // coffeetl:loadManifestsPerTransaction default

const s3 = new FakeS3();
const ssm = mockClient(SSMClient);
ssm.on(GetParameterCommand, { Name: process.env.TRANSACTION_ID_KEY_PARAMETER }).resolves({ Parameter: { Value: "burst-hmac-key-0123456789abcdef" } });
ssm.on(GetParameterCommand, { Name: process.env.WAREHOUSE_PARAMETER_NAME }).resolves({
  Parameter: { Value: JSON.stringify({ workgroupName: "coffeetl-wg", database: "coffee", copyRoleArn: "arn:aws:iam::123456789012:role/copy" }) },
});
const redshift = new FakeRedshift();
redshift.runningPolls = 0;
redshift.objects = (uri) => {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  return m ? s3.objects.get(`${m[1]}/${m[2]}`)?.body : undefined;
};

const capture = captureOutput();
const transform = (await import("../functions/extract-transform/handler.js")).handler;
const { handler: load } = await import("../functions/load/handler.js");
const context = lambdaContext(900_000) as unknown as Context;

// 500 branches' day files: the fixture's rows under each branch's name (its own sales, its own ids).
const fixture = readFileSync(new URL("./fixtures/aws/leeds-raw.csv", import.meta.url), "utf8");
const branches = Array.from({ length: FILES }, (_, i) => `Branch ${String(i + 1).padStart(3, "0")}`);
const transformStarted = Date.now();
for (let i = 0; i < FILES; i += 25) {
  const records = branches.slice(i, i + 25).map((branch) => {
    const key = `uploads/${branch.replace(" ", "-").toLowerCase()}/2024-05-01.csv`;
    s3.putText(RAW, key, fixture.replace(/Leeds/g, branch));
    return s3Record(RAW, key);
  });
  await transform({ Records: records } as never, context);
}
const transformMs = Date.now() - transformStarted;
const manifests = s3.keys(OUT).filter((k) => k.endsWith("/manifest.json"));

// The bad file: one branch's transactions.csv gets a row with a column too many.
const BAD = manifests.find((k) => k.startsWith("uploads/branch-250/"))!;
const badFile = `${BAD.slice(0, -"manifest.json".length)}transactions.csv`;
s3.putText(OUT, badFile, Buffer.concat([s3.objects.get(`${OUT}/${badFile}`)!.body, Buffer.from("deadbeef,x,2024-05-01 09:00:00,CASH,1.00,k,extra\n")]));

// S3 → the queue: one message per manifest event, as S3 sends them.
const queue = new FakeQueue(MAX_RECEIVES);
const messageOf = new Map<string, string>();
for (const key of manifests) messageOf.set(key, queue.send({ Records: [s3Record(OUT, key)] }));
const BAD_MESSAGE = messageOf.get(BAD)!;

interface Invocation {
  messages: number;
  failures: string[];
  transactions: number;
}
const invocations: Invocation[] = [];
const loadStarted = Date.now();
for (;;) {
  const event = queue.receive(BATCH_SIZE);
  if (!event) break;
  const before = redshift.loadBatches().length;
  const response = await load(event, context);
  queue.complete(response);
  invocations.push({
    messages: event.Records.length,
    failures: response.batchItemFailures.map((f) => f.itemIdentifier),
    transactions: redshift.loadBatches().length - before,
  });
}
const loadMs = Date.now() - loadStarted;

const loadBatches = redshift.loadBatches();
const firstPass = invocations.slice(0, FILES / BATCH_SIZE);
const firstPassTransactions = firstPass.reduce((n, i) => n + i.transactions, 0);
const copiesOf = (b: { Sqls?: string[] }) => b.Sqls!.filter((s) => s.startsWith("COPY ")).length;
const statements = redshift.batchInputs().reduce((n, b) => n + b.Sqls!.length, 0) + redshift.mock.commandCalls(ExecuteStatementCommand).length;

test("500 manifests, first pass: at most 20 transactions, at most 4 COPYs each, and nothing but the bad file fails", () => {
  assert.is(manifests.length, FILES);
  assert.is(firstPass.length, 5, "five invocations of 100 messages");
  assert.ok(firstPassTransactions <= 20, `${firstPassTransactions} transactions`);
  for (const b of loadBatches) assert.ok(copiesOf(b) <= 4, `${copiesOf(b)} COPYs in one transaction`);
  assert.equal(
    firstPass.flatMap((i) => i.failures),
    [BAD_MESSAGE],
    "only the bad file's message is reported failed",
  );
  // Redshift's load error names the bad file and line (the stand-in's stl_load_errors).
  assert.ok(redshift.copyErrors.length > 0 && redshift.copyErrors.every((e) => e.uri === `s3://${OUT}/${badFile}` && e.reason === "Extra column(s) found"));
});

test("every other file loads exactly once", () => {
  const results = redshift.loadedRows();
  const perLoad = new Map<string, number>();
  for (const r of results) if (r.outcome === "loaded") perLoad.set(String(r.load_id), (perLoad.get(String(r.load_id)) ?? 0) + 1);
  assert.is(perLoad.size, FILES - 1);
  assert.ok(
    [...perLoad.values()].every((n) => n === 1),
    "no file loaded twice",
  );
  assert.is(results.filter((r) => r.outcome === "already_loaded").length, 0, "good messages were never redelivered");
  assert.is(redshift.loads.size, FILES - 1);
  assert.is(queue.deleted.length, FILES - 1);
});

test("the bad file is retried alone, then parked in the dead-letter queue with its reason recorded", () => {
  const retries = invocations.slice(firstPass.length);
  assert.equal(
    retries.map((i) => [i.messages, i.failures, i.transactions]),
    [
      [1, [BAD_MESSAGE], 1],
      [1, [BAD_MESSAGE], 1],
    ],
    "received 3 times in all, each retry one transaction of one manifest",
  );
  assert.equal(
    queue.deadLetters.map((m) => [m.id, m.receives]),
    [[BAD_MESSAGE, MAX_RECEIVES]],
  );
  assert.is(queue.depth, 0);
  // A failed file_outcomes row per failed attempt, with the reason and never row content.
  const outcomes = redshift.mock
    .commandCalls(ExecuteStatementCommand)
    .map((c) => String(c.args[0].input.Sql))
    .concat(redshift.batchInputs().flatMap((b) => b.Sqls!))
    .filter((s) => s.startsWith("INSERT INTO file_outcomes") && s.includes("'failed'"));
  assert.is(outcomes.length, MAX_RECEIVES);
  for (const sql of outcomes) {
    assert.ok(sql.includes("uploads/branch-250/2024-05-01.csv"), "names the raw file");
    assert.ok(sql.includes("stl_load_errors"), "carries Redshift's reason");
    assert.not.ok(sql.includes("deadbeef"), "no row content");
  }
});

test("the figures", () => {
  const transactions = loadBatches.length;
  const copies = loadBatches.reduce((n, b) => n + copiesOf(b), 0);
  const largest = Math.max(...redshift.batchInputs().map((b) => Buffer.byteLength(b.Sqls!.join(";"))));
  assert.ok(redshift.mock.commandCalls(BatchExecuteStatementCommand).length >= transactions);
  console.log(
    `  burst: ${FILES} files transformed in ${(transformMs / 1000).toFixed(1)} s (handler, in-memory S3); load: ${invocations.length} invocations, ` +
      `${firstPassTransactions} transactions in the first pass (${transactions} with the 2 retries), ` +
      `then ${redshift.lineNoteBatches().length} of 3 statements keeping rejected lines and warnings, ${copies} COPYs, ${statements} statements in all ` +
      `(largest batch ${(largest / 1024).toFixed(1)} KB of SQL), ${(loadMs / 1000).toFixed(1)} s with the stand-in's 250 ms polls`,
  );
});

test.after(() => capture.stop());
test.run();
