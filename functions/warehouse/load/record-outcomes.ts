// Record outcomes (docs/design.md §7.6). Keeps: every file the batch settled has one `file_outcomes`
// row (loaded, withdrawn, already_loaded or superseded on arrival), and every load it replaced a
// `superseded` row. A batch refused for its key records nothing here: its caller records the
// failure, as for any load that fails.
import { FILE_OUTCOMES_COLUMNS } from "../../core/schema.js";
import type { Batch } from "./batch.js";

export function recordOutcomes(b: Batch): string[] {
  return [
    `INSERT INTO file_outcomes (${FILE_OUTCOMES_COLUMNS.join(", ")})
SELECT f.source_key, f.source_version, f.source_sha256, f.load_id, 'load',
  CASE WHEN f.outcome = 'loaded' AND f.rows_read = 0 THEN 'withdrawn' ELSE f.outcome END,
  CASE WHEN f.outcome = 'superseded' THEN 'superseded on arrival: an older version than the current load ' || f.newer_load_id || ', which stays'
    WHEN f.outcome = 'loaded' AND f.rows_read = 0 THEN 'withdrawn: this version has no rows, so the file holds no sales'
    ELSE CAST(NULL AS VARCHAR(1024)) END,
  f.rows_read, f.transactions_new, f.rows_read - f.rows_rejected - f.transactions_new, f.rows_rejected, f.warnings, ${b.recordedAt}
FROM stage_files f WHERE f.outcome <> 'other_key'
UNION ALL
SELECT l.source_key, l.source_version, l.source_sha256, l.load_id, 'load', 'superseded', 'superseded by load ' || f.load_id,
  l.rows_read, l.transactions_new, l.transactions_duplicate, l.rows_rejected, l.warnings, ${b.recordedAt}
FROM loads l JOIN stage_files f ON l.load_id = f.superseded_load_id`,
  ];
}
