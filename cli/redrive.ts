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
  ChangeMessageVisibilityBatchCommand,
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
  if (missing.length)
    throw new Error(
      `${where}: missing stack output${missing.length > 1 ? "s" : ""} ${missing.join(", ")} (is this \`pulumi stack output --json\` of a CoffeETL stack?)`,
    );
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

interface AwsClients {
  sqs: SQSClient;
  lambda: LambdaClient;
  s3: S3Client;
}

/** A step that failed: which, the AWS call that failed, and its error. The other steps still ran. */
interface StepFailure {
  step: string;
  /** `SQS StartMessageMoveTask`, `Lambda Invoke`, ... */
  call: string;
  error: string;
}

interface RedriveReport {
  /** The load dead-letter queue: messages moved back (an SQS move task), or why not. */
  loadMoveTask?: { taskHandle?: string; messages: number; note?: string };
  /** Failed extract-transform events re-invoked from the async dead-letter queue (dry run: that would be). */
  reinvoked: number;
  /** Messages left in that queue, visible again: not Lambda failure records (kept for a look). */
  unreadable: number;
  /** Raw objects re-emitted under --prefix. */
  reemitted: number;
  skippedNotCsv: number;
  failures: StepFailure[];
}

const STEPS = {
  loadQueue: "moving the load dead-letter queue back to the load queue",
  reinvoke: "re-invoking the extract-transform dead-letter queue's events",
  reemit: "re-emitting the raw objects under the prefix",
} as const;

/** An AWS call's failure, named by service and operation. */
class CallError extends Error {
  constructor(
    readonly call: string,
    cause: unknown,
  ) {
    const e = cause as Error;
    super(`${e?.name && e.name !== "Error" ? `${e.name}: ` : ""}${e?.message ?? String(cause)}`, { cause });
  }
}

async function call<T>(name: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new CallError(name, error);
  }
}

function failureOf(step: string, error: unknown): StepFailure {
  return error instanceof CallError ? { step, call: error.call, error: error.message } : { step, call: "", error: (error as Error)?.message ?? String(error) };
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
  const result = await call("Lambda Invoke", () =>
    lambda.send(new InvokeCommand({ FunctionName: functionName, InvocationType: "Event", Payload: Buffer.from(JSON.stringify(payload)) })),
  );
  if (result.StatusCode !== 202)
    throw new CallError("Lambda Invoke", new Error(`Lambda did not accept the invocation of ${functionName} (status ${result.StatusCode})`));
}

/** Runs `work` over `items`, `width` at a time. */
async function eachLimited<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      try {
        while (!failed && next < items.length) await work(items[next++]!);
      } catch (error) {
        failed = true; // the others stop at their next item
        throw error;
      }
    }),
  );
}

async function moveLoadDeadLetters(sqs: SQSClient, outputs: StackOutputs, dryRun: boolean): Promise<RedriveReport["loadMoveTask"]> {
  if (!outputs.loadDeadLetterQueueArn || !outputs.loadDeadLetterQueueUrl) return undefined;
  const attributes = await call("SQS GetQueueAttributes", () =>
    sqs.send(new GetQueueAttributesCommand({ QueueUrl: outputs.loadDeadLetterQueueUrl, AttributeNames: ["ApproximateNumberOfMessages"] })),
  );
  const messages = Number(attributes.Attributes?.ApproximateNumberOfMessages ?? 0);
  if (messages === 0) return { messages, note: "empty" };
  const running = await call("SQS ListMessageMoveTasks", () =>
    sqs.send(new ListMessageMoveTasksCommand({ SourceArn: outputs.loadDeadLetterQueueArn, MaxResults: 1 })),
  );
  if (running.Results?.some((t) => t.Status === "RUNNING")) return { messages, note: "a move task is already running" };
  if (dryRun) return { messages, note: "dry run" };
  const task = await call("SQS StartMessageMoveTask", () =>
    sqs.send(
      new StartMessageMoveTaskCommand({ SourceArn: outputs.loadDeadLetterQueueArn, ...(outputs.loadQueueArn ? { DestinationArn: outputs.loadQueueArn } : {}) }),
    ),
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

/**
 * One pass over the extract-transform dead-letter queue: every failure record re-invoked, then
 * deleted (a dry run only counts them). Whatever is not deleted (non-records, a dry run's messages,
 * those after an invocation Lambda refused) is made visible again at the end, so a second run or a
 * look at the queue sees it at once rather than after the 5-minute visibility timeout.
 */
async function reinvokeFailedEvents(
  clients: AwsClients,
  outputs: StackOutputs,
  dryRun: boolean,
  counts: { reinvoked: number; unreadable: number },
): Promise<void> {
  const queueUrl = outputs.deadLetterQueueUrl;
  const seen = new Set<string>();
  const keep: Message[] = [];
  let stopped: unknown;
  try {
    // Each message stays invisible for 5 minutes once received, so one pass sees each message once.
    for (;;) {
      const { Messages = [] } = await call("SQS ReceiveMessage", () =>
        clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 300 })),
      );
      const fresh = Messages.filter((m) => !seen.has(m.MessageId!));
      if (fresh.length === 0) break;
      const done: Message[] = [];
      for (const message of fresh) {
        seen.add(message.MessageId!);
        const record = invocationRecord(message);
        if (!record) {
          counts.unreadable++;
          keep.push(message);
        } else if (dryRun || stopped !== undefined) {
          if (dryRun) counts.reinvoked++;
          keep.push(message);
        } else {
          try {
            await invokeAsync(clients.lambda, record.functionArn, record.payload);
            counts.reinvoked++;
            done.push(message);
          } catch (error) {
            // Lambda refused (throttled, denied): the rest stay parked; no point hammering it.
            stopped = error;
            keep.push(message);
          }
        }
      }
      if (done.length) {
        const result = await call("SQS DeleteMessageBatch", () =>
          clients.sqs.send(
            new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
          ),
        );
        if (result.Failed?.length) {
          throw new CallError(
            "SQS DeleteMessageBatch",
            new Error(`could not delete ${result.Failed.length} redriven message(s) from the dead-letter queue: ${result.Failed[0]!.Message}`),
          );
        }
      }
    }
  } finally {
    if (keep.length) {
      for (let i = 0; i < keep.length; i += 10) {
        const batch = keep.slice(i, i + 10);
        await call("SQS ChangeMessageVisibilityBatch", () =>
          clients.sqs.send(
            new ChangeMessageVisibilityBatchCommand({
              QueueUrl: queueUrl,
              Entries: batch.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 })),
            }),
          ),
        );
      }
    }
  }
  if (stopped !== undefined) throw stopped;
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
  counts: { reemitted: number; skippedNotCsv: number } = { reemitted: 0, skippedNotCsv: 0 },
): Promise<{ reemitted: number; skippedNotCsv: number; keys: string[] }> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await call("S3 ListObjectsV2", () =>
      clients.s3.send(new ListObjectsV2Command({ Bucket: outputs.rawBucketName, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) })),
    );
    for (const { Key, LastModified } of page.Contents ?? []) {
      if (since && LastModified && LastModified < since) continue;
      if (Key && /\.csv$/i.test(Key)) keys.push(Key);
      else counts.skippedNotCsv++;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  if (dryRun) {
    counts.reemitted = keys.length;
    return { ...counts, keys };
  }
  await eachLimited(keys, 8, async (key) => {
    await invokeAsync(clients.lambda, outputs.extractTransformFunctionName, { Records: [s3CreatedRecord(outputs.rawBucketName, key, region)] });
    counts.reemitted++;
  });
  return { ...counts, keys };
}

/** Runs every step; one failing never stops the others. `failures` names each failed step and call. */
export async function redrive(
  clients: AwsClients,
  outputs: StackOutputs,
  options: { prefix?: string; region: string; dryRun?: boolean },
): Promise<RedriveReport> {
  const dryRun = options.dryRun ?? false;
  const report: RedriveReport = { reinvoked: 0, unreadable: 0, reemitted: 0, skippedNotCsv: 0, failures: [] };
  const step = async (name: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      report.failures.push(failureOf(name, error));
    }
  };
  await step(STEPS.loadQueue, async () => {
    const moved = await moveLoadDeadLetters(clients.sqs, outputs, dryRun);
    if (moved) report.loadMoveTask = moved;
  });
  await step(STEPS.reinvoke, () => reinvokeFailedEvents(clients, outputs, dryRun, report));
  if (options.prefix !== undefined)
    await step(STEPS.reemit, async () => void (await reemitPrefix(clients, outputs, options.prefix!, options.region, dryRun, undefined, report)));
  return report;
}

/** The region of a queue URL (`https://sqs.<region>.amazonaws.com/…`). */
const regionOfQueue = (url: string) => /^https:\/\/sqs\.([a-z0-9-]+)\.amazonaws\.com/.exec(url)?.[1];

export async function redriveCommand(ctx: CommandContext): Promise<number> {
  const file = ctx.values.outputs as string | undefined;
  if (!file)
    throw new UsageError(
      "redrive needs --outputs FILE: the stack outputs, from `pulumi stack output --json > outputs.json` (- reads standard input)",
      "redrive",
    );
  const json = file === "-" ? await text(process.stdin) : await readFile(file, "utf8");
  const outputs = parseStackOutputs(json, file === "-" ? "standard input" : file);
  const region = (ctx.values.region as string | undefined) ?? process.env.AWS_REGION ?? regionOfQueue(outputs.deadLetterQueueUrl);
  if (!region) throw new UsageError("redrive: no AWS region: give --region or set AWS_REGION", "redrive");
  const clients = { sqs: new SQSClient({ region }), lambda: new LambdaClient({ region }), s3: new S3Client({ region }) };
  const dryRun = ctx.values["dry-run"] === true;
  const prefix = ctx.values.prefix as string | undefined;
  const report = await redrive(clients, outputs, { ...(prefix !== undefined ? { prefix } : {}), region, dryRun });
  const verb = dryRun ? "would be" : "";
  const failed = (step: string) => report.failures.find((f) => f.step === step);
  const say = (step: string, ok: () => string) => {
    const f = failed(step);
    line(f ? `✘ ${step} failed: ${f.call ? `${f.call}: ` : ""}${f.error}` : ok());
  };
  const move = report.loadMoveTask;
  say(STEPS.loadQueue, () =>
    !outputs.loadDeadLetterQueueArn
      ? "Load dead-letter queue: not in the stack outputs (an older stack); skipped."
      : move?.taskHandle
        ? `Load dead-letter queue: moving ${move.messages} message(s) back to the load queue (task ${move.taskHandle}).`
        : `Load dead-letter queue: ${move?.messages ?? 0} message(s)${move?.note ? ` (${move.note})` : ""}.`,
  );
  say(
    STEPS.reinvoke,
    () => `Extract-transform dead-letter queue: ${report.reinvoked} failed event(s) ${verb || "re-invoked and removed"}${verb ? " re-invoked" : ""}.`,
  );
  if (failed(STEPS.reinvoke) && report.reinvoked)
    line(`  ${report.reinvoked} failed event(s) were re-invoked and removed before that; the others are still in the queue.`);
  if (report.unreadable) line(`  ${report.unreadable} message(s) are not Lambda failure records; left in the queue (visible) for a look.`);
  if (prefix !== undefined) {
    say(
      STEPS.reemit,
      () =>
        `Raw objects under ${JSON.stringify(prefix)}: ${report.reemitted} .csv object(s) ${verb || "sent to"}${verb ? " sent to" : ""} ${outputs.extractTransformFunctionName}${report.skippedNotCsv ? `; ${report.skippedNotCsv} other object(s) skipped` : ""}.`,
    );
  }
  return report.unreadable || report.failures.length ? 1 : 0;
}
