// load Lambda: batches of SQS messages from the load queue, each holding an S3 event for
// `<prefix>/manifest.json` on the transformed bucket → loadManifests (the service `coffeetl ingest`
// also runs), which loads them into Redshift through the Data API, many manifests per transaction.
// Only event adaptation lives here. A `<prefix>/failed.json` event (a file the transform could not
// read) is not loaded: recordTransformFailure (functions/app/record-failure.ts) writes its
// `file_outcomes` row (stage transform, outcome failed, its reason), so a transform failure reaches
// the warehouse too.
//
// Env: WAREHOUSE_PARAMETER_NAME (the SSM parameter with the warehouse settings JSON, functions/aws/ssm.ts),
// LOAD_MANIFESTS_PER_TRANSACTION (optional), LOAD_POLL_MAX_MS (optional: the Data API polling cap),
// LOG_LEVEL, POWERTOOLS_SERVICE_NAME.
//
// Failures (ReportBatchItemFailures): a message fails when any manifest it names failed, or any
// failed.json it names could not be recorded, and only
// failed messages are returned to the queue, to be received again and, after the queue's
// maxReceiveCount, parked in the load dead-letter queue. A message that is not an S3 event fails too
// (parked, never dropped). The others are deleted by Lambda. A manifest loaded before reports
// `already_loaded` and changes nothing, so a redelivered message is harmless.
//
// Time: near the end of the invocation no new batch starts; a batch cancelled for time, or given up
// for throttling or conflicts, is not split and records nothing. Those messages are returned as
// item failures and made visible again after RETRY_SOON_SECONDS (ChangeMessageVisibility; the load
// role may), not after the queue's visibility timeout of six function timeouts.
import { RedshiftDataClient } from "@aws-sdk/client-redshift-data";
import { S3Client } from "@aws-sdk/client-s3";
import { ChangeMessageVisibilityBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { SSMClient } from "@aws-sdk/client-ssm";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { loadManifests, type ManifestOutcome } from "../app/load-manifests.js";
import { RetryLaterError } from "../app/ports.js";
import { recordTransformFailure } from "../app/record-failure.js";
import { FAILURE_FILE, MANIFEST_FILE } from "../core/manifest.js";
import { createLogger, errorFields, logPort, startInvocation } from "../aws/logger.js";
import { RedshiftWarehouse } from "../aws/redshift-warehouse.js";
import { S3Storage } from "../aws/s3-storage.js";
import { parseQueuedS3Message } from "../aws/s3-events.js";
import { parameterNameFromEnv, readWarehouseSettings } from "../aws/ssm.js";
import { describeReaderGaps, readerGaps } from "../warehouse/reader-role.js";

const logger = createLogger("coffeetl-load");
// CoffeETL/Manifests* per batch, as Embedded Metric Format log lines: a partial batch failure is a
// successful invocation, so Lambda's own Errors metric never counts it (the stack alarms on these).
const metrics = new Metrics({ namespace: "CoffeETL", serviceName: process.env.POWERTOOLS_SERVICE_NAME || "coffeetl-load" });
const log = logPort(logger);
let clients: { s3: S3Client; ssm: SSMClient; redshift: RedshiftDataClient; sqs: SQSClient } | undefined;
// SSM retries live in functions/aws/ssm.ts (backoff with jitter); one SDK attempt per call there.
const aws = () => (clients ??= { s3: new S3Client({}), ssm: new SSMClient({ maxAttempts: 1 }), redshift: new RedshiftDataClient({}), sqs: new SQSClient({}) });

/** How soon a message returned for time, throttling or conflicts is received again. */
export const RETRY_SOON_SECONDS = 30;
/** Transform failures are recorded only with this much of the invocation left. */
const RECORD_MARGIN_MS = 15_000;

/** CREATE TABLE IF NOT EXISTS runs once per container and connection, not once per batch. */
const schemaReady = new Map<string, Promise<void>>();
/**
 * Per connection: how many CoffeETL tables Grafana's reader may not SELECT, checked after the schema
 * step and again on each invocation while it is not 0 (so an administrator's grant clears the alarm).
 */
const readerTablesWithoutSelect = new Map<string, number>();

const isFailure = (key: string) => key.endsWith(`/${FAILURE_FILE}`);
const wantObject = (key: string) => (key.endsWith(`/${MANIFEST_FILE}`) || isFailure(key) ? undefined : `not a ${MANIFEST_FILE} or ${FAILURE_FILE} key`);

export async function handler(event: SQSEvent, context?: Context): Promise<SQSBatchResponse> {
  startInvocation(logger, context);
  const records = Array.isArray(event?.Records) ? event.Records : [];
  const failed = new Set<string>();
  /** Failed for a passing reason: made visible again soon. */
  const retrySoon = new Set<string>();
  /** Manifests to load, by bucket, each with the messages that named it (S3 may deliver twice). */
  const wanted = new Map<string, Map<string, string[]>>();
  /** Transform failures to record, the same way. */
  const failures = new Map<string, Map<string, string[]>>();
  let skipped = 0;

  for (const record of records) {
    let message;
    try {
      message = parseQueuedS3Message(record.body, wantObject);
    } catch (error) {
      log.error("unreadable message", { messageId: record.messageId, ...errorFields(error) });
      failed.add(record.messageId);
      continue;
    }
    if (message.kind === "test") {
      skipped++;
      log.info("skipped", { messageId: record.messageId, reason: "s3:TestEvent" });
      continue;
    }
    for (const s of message.skipped) log.info("skipped", { messageId: record.messageId, ...s });
    skipped += message.skipped.length;
    for (const { bucket, key } of message.objects) {
      const byBucket = isFailure(key) ? failures : wanted;
      const keys = byBucket.get(bucket) ?? new Map<string, string[]>();
      byBucket.set(bucket, keys);
      keys.set(key, [...(keys.get(key) ?? []), record.messageId]);
    }
  }

  let loaded = 0;
  let alreadyLoaded = 0;
  let failedManifests = 0;
  let deferredManifests = 0;
  for (const [bucket, keys] of wanted) {
    let outcomes: ManifestOutcome[];
    try {
      outcomes = await loadBucket(bucket, [...keys.keys()], context);
    } catch (error) {
      // Nothing could be tried (connection parameter, schema): every message naming this bucket fails.
      log.error("load failed before any manifest", { bucket, manifests: keys.size, ...errorFields(error) });
      for (const ids of keys.values()) for (const id of ids) failed.add(id);
      if (error instanceof RetryLaterError) for (const ids of keys.values()) for (const id of ids) retrySoon.add(id);
      failedManifests += keys.size;
      continue;
    }
    for (const outcome of outcomes) {
      if (outcome.deferred) {
        deferredManifests++;
        for (const id of keys.get(outcome.manifestKey) ?? []) {
          failed.add(id);
          retrySoon.add(id);
        }
      } else if (!outcome.ok) {
        failedManifests++;
        for (const id of keys.get(outcome.manifestKey) ?? []) failed.add(id);
      } else if (outcome.result?.outcome === "already_loaded") alreadyLoaded++;
      else loaded++;
    }
  }

  let failuresRecorded = 0;
  let failuresUnrecorded = 0;
  for (const [bucket, keys] of failures) {
    let deps;
    try {
      deps = await warehouseFor(bucket, context);
    } catch (error) {
      log.error("could not record transform failures", { bucket, failures: keys.size, ...errorFields(error) });
      for (const ids of keys.values()) for (const id of ids) failed.add(id);
      failuresUnrecorded += keys.size;
      continue;
    }
    for (const [key, ids] of keys) {
      if (context?.getRemainingTimeInMillis && context.getRemainingTimeInMillis() < RECORD_MARGIN_MS) {
        for (const id of ids) {
          failed.add(id);
          retrySoon.add(id);
        }
        failuresUnrecorded++;
        continue;
      }
      try {
        await recordTransformFailure({ ...deps, log }, key);
        failuresRecorded++;
      } catch (error) {
        log.error("could not record a transform failure", { failureKey: key, ...errorFields(error) });
        for (const id of ids) failed.add(id);
        if (error instanceof RetryLaterError) for (const id of ids) retrySoon.add(id);
        failuresUnrecorded++;
      }
    }
  }

  const batchItemFailures = records.filter((r) => failed.has(r.messageId)).map((r) => ({ itemIdentifier: r.messageId }));
  await visibleSoon(records.filter((r) => retrySoon.has(r.messageId)));
  log.info("batch done", {
    messages: records.length,
    loaded,
    alreadyLoaded,
    skipped,
    failedManifests,
    deferredManifests,
    failuresRecorded,
    failuresUnrecorded,
    failedMessages: batchItemFailures.length,
  });
  metrics.addMetric("ManifestsLoaded", MetricUnit.Count, loaded);
  metrics.addMetric("ManifestsAlreadyLoaded", MetricUnit.Count, alreadyLoaded);
  metrics.addMetric("ManifestsFailed", MetricUnit.Count, failedManifests);
  metrics.addMetric("ManifestsDeferred", MetricUnit.Count, deferredManifests);
  metrics.addMetric("MessagesFailed", MetricUnit.Count, batchItemFailures.length);
  // Alarmed in the stack (infra/stack.ts): the dashboards cannot read while it is above 0.
  if (readerTablesWithoutSelect.size) metrics.addMetric("ReaderTablesWithoutSelect", MetricUnit.Count, Math.max(...readerTablesWithoutSelect.values()));
  metrics.publishStoredMetrics();
  return { batchItemFailures };
}

/** `https://sqs.<region>.<suffix>/<account>/<name>` of a queue ARN. */
export function queueUrlOf(queueArn: string): string {
  const [, partition, , region, account, name] = queueArn.split(":");
  const suffix = partition === "aws-cn" ? "amazonaws.com.cn" : "amazonaws.com";
  return `https://sqs.${region}.${suffix}/${account}/${name}`;
}

/** Returned messages come back after RETRY_SOON_SECONDS; if this fails, after the queue's timeout. */
async function visibleSoon(records: SQSRecord[]): Promise<void> {
  const byQueue = new Map<string, SQSRecord[]>();
  for (const r of records) byQueue.set(r.eventSourceARN, [...(byQueue.get(r.eventSourceARN) ?? []), r]);
  for (const [arn, list] of byQueue) {
    for (let i = 0; i < list.length; i += 10) {
      const entries = list.slice(i, i + 10).map((r, n) => ({ Id: String(n), ReceiptHandle: r.receiptHandle, VisibilityTimeout: RETRY_SOON_SECONDS }));
      try {
        const out = await aws().sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrlOf(arn), Entries: entries }));
        if (out.Failed?.length) log.warn("some returned messages keep the queue's visibility timeout", { failed: out.Failed.map((f) => f.Code) });
      } catch (error) {
        log.warn("returned messages keep the queue's visibility timeout", { messages: entries.length, ...errorFields(error) });
      }
    }
  }
}

async function loadBucket(bucket: string, manifestKeys: string[], context: Context | undefined): Promise<ManifestOutcome[]> {
  const { transformed, warehouse } = await warehouseFor(bucket, context);
  const perTransaction = Number(process.env.LOAD_MANIFESTS_PER_TRANSACTION);
  return loadManifests(
    {
      transformed,
      warehouse,
      log,
      keyHint: "the transformed files were keyed with another transaction secret than this warehouse's",
      ...(context?.getRemainingTimeInMillis ? { remainingTimeMs: () => context.getRemainingTimeInMillis() } : {}),
    },
    manifestKeys,
    Number.isInteger(perTransaction) && perTransaction > 0 ? { maxBatch: perTransaction } : {},
  );
}

/** The transformed bucket and the warehouse (its schema ensured once per container and connection). */
async function warehouseFor(bucket: string, context: Context | undefined): Promise<{ transformed: S3Storage; warehouse: RedshiftWarehouse }> {
  const { s3, ssm, redshift } = aws();
  const connection = await readWarehouseSettings(ssm, parameterNameFromEnv("WAREHOUSE_PARAMETER_NAME"));
  const transformed = new S3Storage(s3, bucket);
  const pollMaxMs = Number(process.env.LOAD_POLL_MAX_MS);
  const warehouse = new RedshiftWarehouse(redshift, connection, {
    log,
    copyManifests: transformed,
    ...(Number.isInteger(pollMaxMs) && pollMaxMs > 0 ? { pollMaxMs } : {}),
    ...(context?.getRemainingTimeInMillis ? { remainingTimeMs: () => context.getRemainingTimeInMillis() } : {}),
  });
  const schemaKey = JSON.stringify(connection.target);
  let ready = schemaReady.get(schemaKey);
  if (!ready) {
    ready = warehouse.ensureSchema();
    schemaReady.set(schemaKey, ready);
    ready.catch(() => schemaReady.delete(schemaKey));
  }
  await ready;
  if ((readerTablesWithoutSelect.get(schemaKey) ?? 1) > 0) {
    try {
      const gaps = await readerGaps(warehouse);
      readerTablesWithoutSelect.set(schemaKey, gaps.tablesWithoutSelect.length); // all of them when the role is missing
      const problem = describeReaderGaps(gaps);
      if (problem) log.warn(problem, { tablesWithoutSelect: gaps.tablesWithoutSelect, fix: gaps.fix });
    } catch (error) {
      log.warn("could not check the reader role's grants", errorFields(error));
    }
  }
  return { transformed, warehouse };
}
