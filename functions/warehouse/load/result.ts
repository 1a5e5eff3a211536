// The batch's result: one row per file, read back by the adapter, and its translation into
// LoadResults. A refusal for another key arrives here as result rows (outcome `other_key`), never
// as an error text to recognise.
import { KeyMismatchError, type LoadRequest, type LoadResult } from "../../app/ports.js";

/** The last statement of a load: `stage_files` in request order. */
export const RESULT_STATEMENT =
  "SELECT file_no, load_id, outcome, superseded_load_id, newer_load_id, held_key, rows_read, transactions_new, rows_rejected, warnings FROM stage_files ORDER BY file_no";

/** The result rows (as any driver returns them) to results in request order; a key refusal throws KeyMismatchError. */
export function resultsFromRows(requests: LoadRequest[], rows: Record<string, unknown>[]): LoadResult[] {
  const refused = rows.find((r) => r.outcome === "other_key");
  if (refused) throw new KeyMismatchError(refused.held_key ? String(refused.held_key) : undefined, requests[0]!.keyFingerprint);
  const n = (v: unknown) => Number(v ?? 0);
  const byPosition = new Map(rows.map((r) => [n(r.file_no), r]));
  return requests.map((request, position) => {
    const row = byPosition.get(position);
    if (!row || String(row.load_id) !== request.loadId) throw new Error(`load ${request.loadId}: no result row for it after the batch`);
    const loaded = row.outcome === "loaded";
    const valid = n(row.rows_read) - n(row.rows_rejected);
    const superseded = row.superseded_load_id ? { supersededLoadId: String(row.superseded_load_id) } : {};
    const newer = row.newer_load_id ? { newerLoadId: String(row.newer_load_id) } : {};
    const outcome = loaded ? (n(row.rows_read) === 0 ? "withdrawn" : "loaded") : row.outcome === "superseded" ? "superseded" : "already_loaded";
    return {
      loadId: request.loadId,
      loaded,
      outcome,
      ...superseded,
      ...newer,
      rowsRead: n(row.rows_read),
      transactionsNew: n(row.transactions_new),
      transactionsDuplicate: valid - n(row.transactions_new),
      rowsRejected: n(row.rows_rejected),
      warnings: n(row.warnings),
    } satisfies LoadResult;
  });
}
