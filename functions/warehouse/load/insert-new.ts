// Insert new (docs/design.md §7.6). Keeps: only loaded files write, and what they write is what
// the warehouse lacks: a `loads` row per loaded file (a version loaded again after another replaced
// it, the original re-uploaded, is current again), branches and products where missing, then the
// sales still staged and their items.
import { COLUMNS, KEYS, LOADS_COLUMNS, type TableName } from "../../core/schema.js";
import { SI, ST, stagingTable, type Batch } from "./batch.js";

export function insertNew(b: Batch): string[] {
  const cols = (table: TableName, alias: string) => COLUMNS[table].map((c) => `${alias}.${c}`).join(", ");
  return [
    `DELETE FROM loads USING stage_files f WHERE loads.load_id = f.load_id AND f.outcome = 'loaded'`,
    `INSERT INTO loads (${LOADS_COLUMNS.join(", ")})
SELECT load_id, source_key, source_sha256, ${b.loadedAt}, rows_read, transactions_new, rows_read - rows_rejected - transactions_new, rows_rejected, warnings,
  source_version, CAST(NULL AS VARCHAR(64)), source_order
FROM stage_files WHERE outcome = 'loaded'`,
    whereMissing("branches"),
    whereMissing("products"),
    // Rows go in in key order: PostgreSQL's primary-key B-trees then fill page after page instead
    // of at random. DISTINCT: identical copies of a sale (and of its items) within the batch.
    // Only loaded files' sales: a version superseded on arrival is staged but never written.
    `INSERT INTO transactions (${COLUMNS.transactions.join(", ")})
SELECT DISTINCT ${cols("transactions", "s")} FROM ${ST} s JOIN stage_files f ON f.source_key = s.source_key WHERE f.outcome = 'loaded'
ORDER BY 1`,
    `INSERT INTO transaction_items (${COLUMNS.transaction_items.join(", ")})
SELECT DISTINCT ${cols("transaction_items", "s")} FROM ${SI} s
WHERE s.transaction_id IN (SELECT x.transaction_id FROM ${ST} x JOIN stage_files f ON f.source_key = x.source_key WHERE f.outcome = 'loaded')
ORDER BY 1, 2, 3`,
  ];
}

/** Staged rows of a reference table the warehouse lacks (none from a batch refused for its key). */
function whereMissing(table: TableName): string {
  const cols = COLUMNS[table];
  const match = KEYS[table].map((k) => `t.${k} = s.${k}`).join(" AND ");
  return `INSERT INTO ${table} (${cols.join(", ")})
SELECT DISTINCT ${cols.map((c) => `s.${c}`).join(", ")} FROM ${stagingTable(table)} s
WHERE NOT EXISTS (SELECT 1 FROM ${table} t WHERE ${match})
  AND NOT EXISTS (SELECT 1 FROM stage_files WHERE outcome = 'other_key')`;
}
