// `coffeetl redrive --outputs FILE [--prefix PREFIX]`: on AWS, after a fix, puts failed work back
// through the pipeline, using the stack's outputs (`pulumi stack output --json`):
// - the load queue's dead-letter queue is moved back to the load queue (SQS StartMessageMoveTask);
// - each failed extract-transform event parked in the async dead-letter queue (a Lambda invocation
//   record: requestContext.functionArn, requestPayload) is re-invoked, and its message deleted only
//   once Lambda has accepted the invocation;
// - with --prefix, every raw .csv object under the prefix is sent to the extract-transform function as
//   an S3 ObjectCreated event, one object per invocation, as S3 itself sends them.
// Idempotent: content already transformed and loaded changes nothing.
import { readFile } from "node:fs/promises";
import { text } from "node:stream/consumers";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
  type Message,
} from "@aws-sdk/client-sqs";
import type { CommandContext } from "./args.js";
import { UsageError } from "./errors.js";
import { line } from "./output.js";

export interface StackOutputs {
  rawBucketName: string;
  extractTransformFunctionName: string;
  deadLetterQueueUrl: string;
  loadQueueArn?: string;
  loadDeadLetterQueueArn?: string;
  loadDeadLetterQueueUrl?: string;
}

export function parseStackOutputs(json: string, where: string): StackOutputs {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new Error(`${where}: not JSON; expected the output of \`pulumi stack output --json\``);
  }
  const need = ["rawBucketName", "extractTransformFunctionName", "deadLetterQueueUrl"] as const;
  const missing = need.filter((k) => typeof value[k] !== "string");
  if (missing.length) throw new Error(`${where}: missing stack output${missing.length > 1 ? "s" : ""} ${missing.join(", ")} (is this \`pulumi stack output --json\` of a CoffeETL stack?)`);
  const optional = (k: string) => (typeof value[k] === "string" ? { [k]: value[k] as string } : {});
  return {
    rawBucketName: value.rawBucketName as string,
    extractTransformFunctionName: value.extractTransformFunctionName as string,
    deadLetterQueueUrl: value.deadLetterQueueUrl as string,
    ...optional("loadQueueArn"),
    ...optional("loadDeadLetterQueueArn"),
    ...optional("loadDeadLetterQueueUrl"),
  };
}

export interface AwsClients {
  sqs: SQSClient;
  lambda: LambdaClient;
  s3: S3Client;
}

export interface RedriveReport {
  /** The load dead-letter queue: messages moved back (an SQS move task), or why not. */
  loadMoveTask?: { taskHandle?: string; messages: number; note?: string };
  /** Failed extract-transform events re-invoked from the async dead-letter queue. */
  reinvoked: number;
  /** Messages left in that queue: unreadable as invocation records (kept for a look). */
  unreadable: number;
  /** Raw objects re-emitted under --prefix. */
  reemitted: number;
  skippedNotCsv: number;
}

/** An S3 ObjectCreated record as S3 sends it: key form-encoded (space as `+`). */
export function s3CreatedRecord(bucket: string, key: string, region: string) {
  return {
    eventVersion: "2.1",
    eventSource: "aws:s3",
    awsRegion: region,
    eventTime: new Date().toISOString(),
    eventName: "ObjectCreated:Put",
    userIdentity: { principalId: "coffeetl-redrive" },
    requestParameters: { sourceIPAddress: "127.0.0.1" },
    responseElements: { "x-amz-request-id": "coffeetl-redrive", "x-amz-id-2": "coffeetl-redrive" },
    s3: {
      s3SchemaVersion: "1.0",
      configurationId: "coffeetl-redrive",
      bucket: { name: bucket, ownerIdentity: { principalId: "coffeetl-redrive" }, arn: `arn:aws:s3:::${bucket}` },
      object: { key: encodeURIComponent(key).replace(/%2F/g, "/").replace(/%20/g, "+"), size: 0, eTag: "", sequencer: "0" },
    },
  };
}

async function invokeAsync(lambda: LambdaClient, functionName: string, payload: unknown): Promise<void> {
  const result = await lambda.send(new InvokeCommand({ FunctionName: functionName, InvocationType: "Event", Payload: Buffer.from(JSON.stringify(payload)) }));
  if (result.StatusCode !== 202) throw new Error(`Lambda did not accept the invocation of ${functionName} (status ${result.StatusCode})`);
}

/** Runs `work` over `items`, `width` at a time. */
async function eachLimited<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

async function moveLoadDeadLetters(sqs: SQSClient, outputs: StackOutputs, dryRun: boolean): Promise<RedriveReport["loadMoveTask"]> {
  if (!outputs.loadDeadLetterQueueArn || !outputs.loadDeadLetterQueueUrl) return undefined;
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: outputs.loadDeadLetterQueueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
  );
  const messages = Number(attributes.Attributes?.ApproximateNumberOfMessages ?? 0);
  if (messages === 0) return { messages, note: "empty" };
  const running = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: outputs.loadDeadLetterQueueArn, MaxResults: 1 }));
  if (running.Results?.some((t) => t.Status === "RUNNING")) return { messages, note: "a move task is already running" };
  if (dryRun) return { messages, note: "dry run" };
  const task = await sqs.send(
    new StartMessageMoveTaskCommand({ SourceArn: outputs.loadDeadLetterQueueArn, ...(outputs.loadQueueArn ? { DestinationArn: outputs.loadQueueArn } : {}) }),
  );
  return { messages, ...(task.TaskHandle ? { taskHandle: task.TaskHandle } : {}) };
}

/** A Lambda on-failure record: the function it was for and the event it was given. */
function invocationRecord(message: Message): { functionArn: string; payload: unknown } | undefined {
  try {
    const body = JSON.parse(message.Body ?? "") as { requestContext?: { functionArn?: string }; requestPayload?: unknown };
    const functionArn = body.requestContext?.functionArn?.replace(/:\$LATEST$/, "");
    return functionArn && body.requestPayload ? { functionArn, payload: body.requestPayload } : undefined;
  } catch {
    return undefined;
  }
}

async function reinvokeFailedEvents(clients: AwsClients, outputs: StackOutputs, dryRun: boolean): Promise<{ reinvoked: number; unreadable: number }> {
  if (dryRun) {
    // Receiving would hide the messages for the visibility timeout: count them instead.
    const attributes = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: outputs.deadLetterQueueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }));
    return { reinvoked: Number(attributes.Attributes?.ApproximateNumberOfMessages ?? 0), unreadable: 0 };
  }
  let reinvoked = 0;
  let unreadable = 0;
  const seen = new Set<string>();
  // Each message stays invisible for 5 minutes once received, so one pass sees each message once.
  for (;;) {
    const { Messages = [] } = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: outputs.deadLetterQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 300 }),
    );
    const fresh = Messages.filter((m) => !seen.has(m.MessageId!));
    if (fresh.length === 0) break;
    const done: Message[] = [];
    for (const message of fresh) {
      seen.add(message.MessageId!);
      const record = invocationRecord(message);
      if (!record) {
        unreadable++;
        continue;
      }
      await invokeAsync(clients.lambda, record.functionArn, record.payload);
      reinvoked++;
      done.push(message);
    }
    if (done.length) {
      const result = await clients.sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: outputs.deadLetterQueueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
      );
      if (result.Failed?.length) throw new Error(`could not delete ${result.Failed.length} redriven message(s) from the dead-letter queue: ${result.Failed[0]!.Message}`);
    }
  }
  return { reinvoked, unreadable };
}

/**
 * Sends the extract-transform function one S3 ObjectCreated event per raw `.csv` object under
 * `prefix` (stored on or after `since`, when given), as S3 does for an upload. Also `reprocess --outputs`.
 */
export async function reemitPrefix(
  clients: Pick<AwsClients, "s3" | "lambda">,
  outputs: Pick<StackOutputs, "rawBucketName" | "extractTransformFunctionName">,
  prefix: string,
  region: string,
  dryRun: boolean,
  since?: Date,
): Promise<{ reemitted: number; skippedNotCsv: number; keys: string[] }> {
  const keys: string[] = [];
  let skippedNotCsv = 0;
  let token: string | undefined;
  do {
    const page = await clients.s3.send(new ListObjectsV2Command({ Bucket: outputs.rawBucketName, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    for (const { Key, LastModified } of page.Contents ?? []) {
      if (since && LastModified && LastModified < since) continue;
      if (Key && /\.csv$/i.test(Key)) keys.push(Key);
      else skippedNotCsv++;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  if (!dryRun) {
    await eachLimited(keys, 8, (key) => invokeAsync(clients.lambda, outputs.extractTransformFunctionName, { Records: [s3CreatedRecord(outputs.rawBucketName, key, region)] }));
  }
  return { reemitted: keys.length, skippedNotCsv, keys };
}

export async function redrive(
  clients: AwsClients,
  outputs: StackOutputs,
  options: { prefix?: string; region: string; dryRun?: boolean },
): Promise<RedriveReport> {
  const dryRun = options.dryRun ?? false;
  const loadMoveTask = await moveLoadDeadLetters(clients.sqs, outputs, dryRun);
  const { reinvoked, unreadable } = await reinvokeFailedEvents(clients, outputs, dryRun);
  const { reemitted, skippedNotCsv } =
    options.prefix !== undefined ? await reemitPrefix(clients, outputs, options.prefix, options.region, dryRun) : { reemitted: 0, skippedNotCsv: 0 };
  return { ...(loadMoveTask ? { loadMoveTask } : {}), reinvoked, unreadable, reemitted, skippedNotCsv };
}

/** The region of a queue URL (`https://sqs.<region>.amazonaws.com/…`). */
const regionOfQueue = (url: string) => /^https:\/\/sqs\.([a-z0-9-]+)\.amazonaws\.com/.exec(url)?.[1];

export async function redriveCommand(ctx: CommandContext): Promise<number> {
  const file = ctx.values.outputs as string | undefined;
  if (!file) throw new UsageError("redrive needs --outputs FILE: the stack outputs, from `pulumi stack output --json > outputs.json` (- reads standard input)", "redrive");
  const json = file === "-" ? await text(process.stdin) : await readFile(file, "utf8");
  const outputs = parseStackOutputs(json, file === "-" ? "standard input" : file);
  const region = (ctx.values.region as string | undefined) ?? process.env.AWS_REGION ?? regionOfQueue(outputs.deadLetterQueueUrl);
  if (!region) throw new UsageError("redrive: no AWS region: give --region or set AWS_REGION", "redrive");
  const clients = { sqs: new SQSClient({ region }), lambda: new LambdaClient({ region }), s3: new S3Client({ region }) };
  const dryRun = ctx.values["dry-run"] === true;
  const prefix = ctx.values.prefix as string | undefined;
  const report = await redrive(clients, outputs, { ...(prefix !== undefined ? { prefix } : {}), region, dryRun });
  const verb = dryRun ? "would be" : "";
  const move = report.loadMoveTask;
  if (!outputs.loadDeadLetterQueueArn) line("Load dead-letter queue: not in the stack outputs (an older stack); skipped.");
  else if (move?.taskHandle) line(`Load dead-letter queue: moving ${move.messages} message(s) back to the load queue (task ${move.taskHandle}).`);
  else line(`Load dead-letter queue: ${move?.messages ?? 0} message(s)${move?.note ? ` (${move.note})` : ""}.`);
  line(`Extract-transform dead-letter queue: ${report.reinvoked} failed event(s) ${verb || "re-invoked and removed"}${verb ? " re-invoked" : ""}.`);
  if (report.unreadable) line(`  ${report.unreadable} message(s) are not Lambda failure records; left in the queue for a look.`);
  if (prefix !== undefined) {
    line(`Raw objects under ${JSON.stringify(prefix)}: ${report.reemitted} .csv object(s) ${verb || "sent to"}${verb ? " sent to" : ""} ${outputs.extractTransformFunctionName}${report.skippedNotCsv ? `; ${report.skippedNotCsv} other object(s) skipped` : ""}.`);
  }
  return report.unreadable ? 1 : 0;
}
