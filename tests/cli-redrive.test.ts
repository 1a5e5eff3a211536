// `coffeetl redrive` against aws-sdk-client-mock (SQS, Lambda) and the in-memory S3: the load
// dead-letter queue moved back, failed extract-transform events re-invoked and then deleted, raw
// objects under a prefix re-emitted as S3 events the real handler accepts.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import type { Context, S3Event } from "aws-lambda";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseStackOutputs, redrive, s3CreatedRecord, type StackOutputs } from "../cli/redrive.js";
import { objectEvent } from "../functions/aws/s3-events.js";
import { FakeS3, lambdaContext } from "./fixtures/aws/fake-s3.js";
import { fixture, runCoffeetlSync, tempDir } from "./helpers.js";

process.env.AWS_REGION = "eu-west-2";
process.env.LOG_LEVEL = "WARN";
const RAW = "coffeetl-acme-raw";
const OUTPUTS: StackOutputs = {
  rawBucketName: RAW,
  extractTransformFunctionName: "coffeetl-acme-extract-transform",
  deadLetterQueueUrl: "https://sqs.eu-west-2.amazonaws.com/123456789012/coffeetl-acme-dlq",
  loadQueueArn: "arn:aws:sqs:eu-west-2:123456789012:coffeetl-acme-load",
  loadDeadLetterQueueArn: "arn:aws:sqs:eu-west-2:123456789012:coffeetl-acme-load-dlq",
  loadDeadLetterQueueUrl: "https://sqs.eu-west-2.amazonaws.com/123456789012/coffeetl-acme-load-dlq",
};
const FUNCTION_ARN = "arn:aws:lambda:eu-west-2:123456789012:function:coffeetl-acme-extract-transform";

const s3 = new FakeS3();
const sqs = mockClient(SQSClient);
const lambda = mockClient(LambdaClient);
const clients = {
  sqs: new SQSClient({ region: "eu-west-2" }),
  lambda: new LambdaClient({ region: "eu-west-2" }),
  s3: new (await import("@aws-sdk/client-s3")).S3Client({ region: "eu-west-2" }),
};

/** A dead-letter queue holding messages until they are deleted; received ones stay hidden (visibility). */
function fakeQueues(asyncFailures: string[], loadMessages: number) {
  let parked = asyncFailures.map((Body, i) => ({ MessageId: `m${i}`, ReceiptHandle: `r${i}`, Body }));
  const hidden = new Set<string>();
  sqs.reset();
  sqs
    .on(GetQueueAttributesCommand, { QueueUrl: OUTPUTS.loadDeadLetterQueueUrl })
    .resolves({ Attributes: { ApproximateNumberOfMessages: String(loadMessages) } });
  sqs
    .on(GetQueueAttributesCommand, { QueueUrl: OUTPUTS.deadLetterQueueUrl })
    .callsFake(async () => ({ Attributes: { ApproximateNumberOfMessages: String(parked.length) } }));
  sqs.on(ListMessageMoveTasksCommand).resolves({ Results: [{ Status: "COMPLETED" }] });
  sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: "task-1" });
  sqs.on(ReceiveMessageCommand).callsFake(async (input) => {
    const visible = parked.filter((m) => !hidden.has(m.MessageId)).slice(0, input.MaxNumberOfMessages ?? 1);
    visible.forEach((m) => hidden.add(m.MessageId));
    return { Messages: visible };
  });
  sqs.on(ChangeMessageVisibilityBatchCommand).callsFake(async (input) => {
    for (const e of input.Entries as { ReceiptHandle: string; VisibilityTimeout: number }[]) {
      const m = parked.find((p) => p.ReceiptHandle === e.ReceiptHandle);
      if (m && e.VisibilityTimeout === 0) hidden.delete(m.MessageId);
    }
    return { Successful: input.Entries.map((e: { Id: string }) => ({ Id: e.Id })), Failed: [] };
  });
  sqs.on(DeleteMessageBatchCommand).callsFake(async (input) => {
    const handles = new Set(input.Entries.map((e: { ReceiptHandle: string }) => e.ReceiptHandle));
    parked = parked.filter((m) => !handles.has(m.ReceiptHandle));
    return { Successful: input.Entries.map((e: { Id: string }) => ({ Id: e.Id })), Failed: [] };
  });
  return { left: () => parked };
}

const failureRecord = (key: string) =>
  JSON.stringify({
    version: "1.0",
    requestContext: { requestId: "x", functionArn: `${FUNCTION_ARN}:$LATEST`, condition: "RetriesExhausted", approximateInvokeCount: 3 },
    requestPayload: { Records: [s3CreatedRecord(RAW, key, "eu-west-2")] },
    responseContext: { statusCode: 200, functionError: "Unhandled" },
    responsePayload: { errorMessage: "boom" },
  });

test("stack outputs are read from `pulumi stack output --json`; missing ones are named", () => {
  assert.equal(parseStackOutputs(JSON.stringify({ ...OUTPUTS, grafanaUrl: "http://x" }), "o.json"), OUTPUTS);
  assert.throws(
    () => parseStackOutputs(JSON.stringify({ rawBucketName: RAW }), "o.json"),
    /o\.json: missing stack outputs extractTransformFunctionName, deadLetterQueueUrl/,
  );
});

test("redrive moves the load DLQ back, re-invokes each parked event then deletes it, keeps what it cannot read", async () => {
  const queues = fakeQueues([failureRecord("uploads/leeds/a.csv"), "not json", failureRecord("uploads/york/b day.csv")], 4);
  lambda.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
  const report = await redrive(clients, OUTPUTS, { region: "eu-west-2" });
  assert.equal(report, { loadMoveTask: { messages: 4, taskHandle: "task-1" }, reinvoked: 2, unreadable: 1, reemitted: 0, skippedNotCsv: 0, failures: [] });
  const move = sqs.commandCalls(StartMessageMoveTaskCommand)[0]!.args[0].input;
  assert.equal(move, { SourceArn: OUTPUTS.loadDeadLetterQueueArn, DestinationArn: OUTPUTS.loadQueueArn });
  const invokes = lambda.commandCalls(InvokeCommand).map((c) => c.args[0].input);
  assert.equal(
    invokes.map((i) => [i.FunctionName, i.InvocationType]),
    [
      [FUNCTION_ARN, "Event"],
      [FUNCTION_ARN, "Event"],
    ],
  );
  const keys = invokes.map((i) => objectEvent((JSON.parse(Buffer.from(i.Payload as Uint8Array).toString()) as S3Event).Records[0]!).key);
  assert.equal(keys, ["uploads/leeds/a.csv", "uploads/york/b day.csv"]);
  assert.equal(
    queues.left().map((m) => m.Body),
    ["not json"],
    "only the unreadable message is left",
  );

  // Twice: nothing is left to redrive, nothing is invoked again.
  const again = await redrive(clients, OUTPUTS, { region: "eu-west-2" });
  assert.is(again.reinvoked, 0);
  assert.is(lambda.commandCalls(InvokeCommand).length, 2);
});

test("a message is deleted only once Lambda accepted its invocation", async () => {
  const queues = fakeQueues([failureRecord("uploads/leeds/a.csv")], 0);
  lambda.reset();
  lambda.on(InvokeCommand).rejects(Object.assign(new Error("Rate exceeded"), { name: "TooManyRequestsException" }));
  const report = await redrive(clients, OUTPUTS, { region: "eu-west-2" });
  assert.equal(report.failures, [
    { step: "re-invoking the extract-transform dead-letter queue's events", call: "Lambda Invoke", error: "TooManyRequestsException: Rate exceeded" },
  ]);
  assert.is(queues.left().length, 1);
  assert.is(sqs.commandCalls(StartMessageMoveTaskCommand).length, 0, "an empty load DLQ starts no move task");
});

test("--prefix re-emits each raw .csv object (any case) under the prefix as an S3 event the real handler transforms", async () => {
  fakeQueues([], 0);
  lambda.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
  const canonical = readFileSync(fixture("canonical.csv"));
  for (const key of ["uploads/leeds/2024-03-01.csv", "uploads/leeds/LEEDS 2.CSV", "uploads/leeds/notes.txt", "uploads/york/2024-03-01.csv"])
    s3.putText(RAW, key, canonical);
  const dry = await redrive(clients, OUTPUTS, { region: "eu-west-2", prefix: "uploads/leeds/", dryRun: true });
  assert.equal([dry.reemitted, dry.skippedNotCsv, lambda.commandCalls(InvokeCommand).length], [2, 1, 0], "a dry run invokes nothing");
  const report = await redrive(clients, OUTPUTS, { region: "eu-west-2", prefix: "uploads/leeds/" });
  assert.equal([report.reemitted, report.skippedNotCsv], [2, 1]);
  const events = lambda.commandCalls(InvokeCommand).map((c) => JSON.parse(Buffer.from(c.args[0].input.Payload as Uint8Array).toString()) as S3Event);
  assert.ok(
    events.every((e) => e.Records.length === 1),
    "one object per invocation, as S3 sends them",
  );
  assert.equal(events.map((e) => objectEvent(e.Records[0]!).key).sort(), ["uploads/leeds/2024-03-01.csv", "uploads/leeds/LEEDS 2.CSV"]);

  // The event is one the extract-transform handler acts on: it transforms the object.
  process.env.TRANSFORMED_BUCKET = "coffeetl-acme-transformed";
  process.env.TRANSACTION_ID_KEY_PARAMETER = "/coffeetl/acme/transaction-secret";
  mockClient(SSMClient)
    .on(GetParameterCommand)
    .resolves({ Parameter: { Value: "test-hmac-key-0123456789abcdef" } });
  const { handler } = await import("../functions/extract-transform/handler.js");
  const summary = await handler(events[0]!, lambdaContext() as unknown as Context);
  assert.is(summary.transformed, 1);
  assert.ok(s3.keys("coffeetl-acme-transformed").some((k) => k.endsWith("/manifest.json")));
});

test("the real CLI: --outputs is required and read; a region comes from the queue URL", async () => {
  const dir = await tempDir();
  try {
    const file = join(dir.path, "outputs.json");
    writeFileSync(file, JSON.stringify({ rawBucketName: RAW }));
    const r = runCoffeetlSync(["redrive", "--outputs", file]);
    assert.is(r.status, 1);
    assert.match(r.stderr, /outputs\.json: missing stack outputs extractTransformFunctionName, deadLetterQueueUrl/);
  } finally {
    await dir.remove();
  }
});

test.run();
