// Hold and count (docs/design.md §7.6). Keeps: a sale is written once. Staged sales the warehouse
// holds stay out (every sale of an already-loaded file among them), and a sale several files of
// the batch bring is new for the first of them only; a loaded file is listed in load_sales for
// each sale it holds that another file brought. What stays staged is each file's new sales.
import { ST, type Batch } from "./batch.js";

export function holdAndCount(b: Batch): string[] {
  // A sale's time is part of its identity, so only the staged period needs checking: on Redshift
  // the sort key on transaction_time skips the rest.
  const held = `SELECT DISTINCT t.transaction_id, t.source_key FROM transactions t JOIN ${ST} s ON t.transaction_id = s.transaction_id
WHERE t.transaction_time >= (SELECT MIN(transaction_time) FROM ${ST})
  AND t.transaction_time <= (SELECT MAX(transaction_time) FROM ${ST})`;
  // stage_held: the warehouse's sales (file_no -1: every file's copy stays out; source_key: their
  // bringer) and, with several files, sales the batch shares (file_no: the first file, which keeps
  // its copy). (A batch of one file, the usual large load, skips the second pass over its sales.)
  const stageHeld = b.several
    ? `CREATE TEMP TABLE stage_held AS
WITH held AS (${held})
SELECT transaction_id, source_key, -1 AS file_no FROM held
UNION ALL
SELECT s.transaction_id, CAST(NULL AS VARCHAR(1024)), MIN(f.file_no) FROM ${ST} s JOIN stage_files f ON f.source_key = s.source_key
WHERE s.transaction_id NOT IN (SELECT transaction_id FROM held) AND f.outcome = 'loaded'
GROUP BY s.transaction_id HAVING MIN(f.file_no) < MAX(f.file_no)`
    : `CREATE TEMP TABLE stage_held AS
SELECT h.transaction_id, h.source_key, -1 AS file_no FROM (${held}) h`;
  return [
    stageHeld,
    `INSERT INTO load_sales (transaction_id, load_id)
SELECT DISTINCT h.transaction_id, f.load_id FROM stage_held h JOIN ${ST} s ON s.transaction_id = h.transaction_id
JOIN stage_files f ON f.source_key = s.source_key
WHERE f.outcome = 'loaded' AND f.file_no > h.file_no AND (h.source_key IS NULL OR h.source_key <> f.source_key)
ORDER BY 1, 2`,
    // Their items stay out with them: insert-new writes only items of sales still staged.
    `DELETE FROM ${ST} USING stage_held h, stage_files f
WHERE ${ST}.transaction_id = h.transaction_id AND f.source_key = ${ST}.source_key AND f.file_no > h.file_no`,
    // (Grouped, not COUNT(DISTINCT): a hash instead of a sort of every staged sale, half the time.
    // Identical lines further apart than the occurrence window share one id: counted once.)
    `UPDATE stage_files SET transactions_new = c.n
FROM (SELECT source_key, COUNT(*) AS n FROM (SELECT transaction_id, source_key FROM ${ST} GROUP BY transaction_id, source_key) s GROUP BY source_key) c
WHERE c.source_key = stage_files.source_key AND stage_files.outcome = 'loaded'`,
  ];
}
