// Application service: record a transform failure in the warehouse from the `failed.json` the
// transform wrote (transform-failure.ts). On AWS the transformed bucket sends failed.json events to
// the load queue with the manifests, and the load handler calls this; locally the pipeline calls it
// as soon as the transform has written one.
//
// Idempotent enough: the row's recorded_at is the failure's `failedAt`, and the transform does not
// rewrite an unchanged failed.json on a retry, so a redelivered event writes at most an identical row
// (no lookup first: `SELECT DISTINCT` reads it as one).
import { clip } from "../core/text.js";
import type { FileOutcome, Storage, Warehouse } from "./ports.js";
import { silentLog, type Log } from "./log.js";
import { readFailure, type TransformFailure } from "./transform-failure.js";

interface RecordFailureDeps {
  transformed: Storage;
  warehouse: Warehouse;
  log?: Log;
}

/** The reason column's size (file_outcomes.reason VARCHAR(1024), bytes); the SQL clips to it too. */
const REASON_BYTES = 1024;

/** The `file_outcomes` row of a transform failure. */
export function failureOutcome(failure: TransformFailure): FileOutcome {
  return {
    sourceKey: failure.source.key,
    ...(failure.source.versionId ? { sourceVersion: failure.source.versionId } : {}),
    ...(failure.source.sha256 ? { sourceSha256: failure.source.sha256 } : {}),
    stage: "transform",
    outcome: "failed",
    // eslint-disable-next-line no-control-regex -- control characters are what it removes
    reason: clip(failure.reason.replace(/[\u0000-\u001f\u007f]+/g, " "), REASON_BYTES),
    ...(failure.failedAt ? { recordedAt: failure.failedAt } : {}),
  };
}

/** Reads `failureKey` (a failed.json) and writes its `file_outcomes` row; throws when either fails. */
export async function recordTransformFailure(deps: RecordFailureDeps, failureKey: string): Promise<FileOutcome> {
  const log = deps.log ?? silentLog;
  const outcome = failureOutcome(await readFailure(deps.transformed, failureKey));
  await deps.warehouse.recordOutcome(outcome);
  log.info("transform failure recorded", { failureKey, sourceKey: outcome.sourceKey, reason: outcome.reason });
  return outcome;
}
