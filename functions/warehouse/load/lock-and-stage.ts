// Lock and stage (docs/design.md §7.1). Keeps: loaders run one at a time, and each reads only
// after the previous one committed: the loaders' lock is the first statement, before anything is
// read (under SNAPSHOT or SERIALIZABLE isolation the snapshot starts at the first read). Data
// tables are never locked, so dashboards read on. Then a staging table per table (COPY fills them
// right after: the only part that differs between warehouses) and `stage_files`, one row per file,
// whose `outcome` every later step reads.
import { LOAD_LOCK_TABLE, TABLES } from "../../core/schema.js";
import { fileRow, stagingTable, type Batch } from "./batch.js";

export function lockAndStage(b: Batch): string[] {
  return [
    b.dialect.lock(LOAD_LOCK_TABLE),
    ...TABLES.map((t) => `CREATE TEMP TABLE ${stagingTable(t)} (LIKE ${t})`),
    // Every file starts `loaded`; the steps below turn it into other_key, already_loaded or superseded.
    `CREATE TEMP TABLE stage_files AS
SELECT CAST(f.file_no AS INTEGER) AS file_no, CAST(f.load_id AS VARCHAR(64)) AS load_id, f.source_key, f.source_version,
  CAST(f.source_order AS VARCHAR(64)) AS source_order, CAST(f.source_sha256 AS VARCHAR(64)) AS source_sha256,
  CAST(f.rows_read AS INTEGER) AS rows_read, CAST(f.rows_rejected AS INTEGER) AS rows_rejected, CAST(f.warnings AS INTEGER) AS warnings,
  CAST('loaded' AS VARCHAR(16)) AS outcome, CAST(NULL AS VARCHAR(64)) AS superseded_load_id, CAST(NULL AS VARCHAR(64)) AS newer_load_id,
  CAST(NULL AS VARCHAR(64)) AS held_key, CAST(0 AS INTEGER) AS transactions_new
FROM (
${b.requests.map((r, fileNo) => fileRow(b, r, fileNo)).join("\nUNION ALL ")}
) f`,
  ];
}
