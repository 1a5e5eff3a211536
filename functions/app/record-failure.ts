// Application service: record a transform failure in the warehouse from the `failed.json` the
// transform wrote beside where its manifest would be (transform-object.ts). On AWS the transformed
// bucket sends failed.json events to the load queue with the manifests, and the load handler calls
// this; locally the pipeline records the failure as it happens.
//
// Idempotent enough: the row's recorded_at is the failure's `failedAt`, and the transform does not
// rewrite an unchanged failed.json on a retry, so a redelivered event writes at most an identical row
// (no lookup first: `SELECT DISTINCT` reads it as one).
import { text } from "node:stream/consumers";
import { clip } from "../core/text.js";
import type { FileOutcome, Storage, Warehouse } from "./ports.js";
import { silentLog, type Log } from "./log.js";

/** What `failed.json` holds (written by transformObject). Never row content. */
export interface TransformFailure {
  source: { bucket: string; key: string; sha256?: string; versionId?: string | null };
  reason: string;
  failedAt?: string;
}

export interface RecordFailureDeps {
  transformed: Storage;
  warehouse: Warehouse;
  log?: Log;
}

/** The reason column's size (file_outcomes.reason VARCHAR(1024), bytes); the SQL clips to it too. */
export const REASON_BYTES = 1024;

export function parseFailure(body: string, failureKey: string): TransformFailure {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new Error(`${failureKey} is not JSON`);
  }
  const v = value as Partial<TransformFailure> | null;
  const source = v?.source as Partial<TransformFailure["source"]> | undefined;
  if (!source || typeof source.key !== "string" || !source.key) throw new Error(`${failureKey} names no source key`);
  if (typeof v!.reason !== "string" || !v!.reason) throw new Error(`${failureKey} gives no reason`);
  const failure: TransformFailure = { source: { bucket: String(source.bucket ?? ""), key: source.key }, reason: v!.reason };
  if (typeof source.sha256 === "string" && /^[0-9a-f]{64}$/.test(source.sha256)) failure.source.sha256 = source.sha256;
  if (typeof source.versionId === "string" && source.versionId) failure.source.versionId = source.versionId;
  if (typeof v!.failedAt === "string" && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/.test(v!.failedAt)) failure.failedAt = v!.failedAt;
  return failure;
}

/** The `file_outcomes` row of a transform failure. */
export function failureOutcome(failure: TransformFailure): FileOutcome {
  return {
    sourceKey: failure.source.key,
    ...(failure.source.versionId ? { sourceVersion: failure.source.versionId } : {}),
    ...(failure.source.sha256 ? { sourceSha256: failure.source.sha256 } : {}),
    stage: "transform",
    outcome: "failed",
    reason: clip(failure.reason.replace(/[\u0000-\u001f\u007f]+/g, " "), REASON_BYTES),
    ...(failure.failedAt ? { recordedAt: failure.failedAt } : {}),
  };
}

/** Reads `failureKey` (a failed.json) and writes its `file_outcomes` row; throws when either fails. */
export async function recordTransformFailure(deps: RecordFailureDeps, failureKey: string): Promise<FileOutcome> {
  const log = deps.log ?? silentLog;
  const failure = parseFailure(await text((await deps.transformed.get(failureKey)).body), failureKey);
  const outcome = failureOutcome(failure);
  await deps.warehouse.recordOutcome(outcome);
  log.info("transform failure recorded", { failureKey, sourceKey: outcome.sourceKey, reason: outcome.reason });
  return outcome;
}
