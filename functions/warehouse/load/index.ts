// The load of a batch of manifests as named steps (docs/design.md §7), shared by the PostgreSQL
// and Redshift warehouses: one transaction, each step a few statements keeping one invariant.
// Read the steps in order; each file opens with what it keeps.
import type { LoadRequest } from "../../app/ports.js";
import { TABLES } from "../../core/schema.js";
import type { Dialect } from "../literals.js";
import { arrival } from "./arrival.js";
import { openBatch, stagingTable } from "./batch.js";
import { holdAndCount } from "./hold-and-count.js";
import { insertNew } from "./insert-new.js";
import { lockAndStage } from "./lock-and-stage.js";
import { recordOutcomes } from "./record-outcomes.js";
import { refuseAnotherKey } from "./refuse-another-key.js";
import { RESULT_STATEMENT } from "./result.js";
import { supersede } from "./supersede.js";

export { stagingTable } from "./batch.js";
export { resultsFromRows } from "./result.js";

export interface LoadStatements {
  /** Lock and stage; COPY into the staging tables comes right after (the adapter's part). */
  prepare: string[];
  /** Everything after COPY, up to the per-file result. */
  merge: string[];
  /** The per-file result: `stage_files` rows in request order (see `resultsFromRows`). */
  result: string;
  /** Temporary tables to drop where the session outlives the transaction (PostgreSQL). */
  cleanup: string[];
}

/** The statements of one batch load. Requests must share one key fingerprint and no raw key. */
export function loadStatements(dialect: Dialect, requests: LoadRequest[], loadedAt: string): LoadStatements {
  const batch = openBatch(dialect, requests, loadedAt);
  return {
    prepare: lockAndStage(batch),
    merge: [...refuseAnotherKey(batch), ...arrival(), ...supersede(), ...holdAndCount(batch), ...insertNew(batch), ...recordOutcomes(batch)],
    result: RESULT_STATEMENT,
    cleanup: [...TABLES.map(stagingTable), "stage_files", "stage_orphans", "stage_held"].map((t) => `DROP TABLE ${t}`),
  };
}
