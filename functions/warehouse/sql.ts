// The warehouse's statements outside the batch load (which is functions/warehouse/load/): a
// `file_outcomes` row recorded on its own, and the lookup of a `loads` row. Shared by the
// PostgreSQL and Redshift warehouses; values are inlined as checked literals (literals.ts).
import type { FileOutcome, LoadResult } from "../app/ports.js";
import { visibleKey } from "../core/errors.js";
import { FILE_OUTCOMES_COLUMNS, LOADS_COLUMNS } from "../core/schema.js";
import { clip } from "../core/text.js";
import { count, hex, timestamp, type Dialect } from "./literals.js";

/** One `file_outcomes` row. */
export function recordOutcomeStatement(dialect: Dialect, o: FileOutcome): string {
  const int = (v: number | undefined, what: string) => (v === undefined ? "CAST(NULL AS INTEGER)" : count(v, what));
  const str = (v: string | undefined, what: string, bytes: number) =>
    // eslint-disable-next-line no-control-regex -- control characters are what it removes
    v === undefined ? "CAST(NULL AS VARCHAR(1024))" : dialect.string(clip(v.replace(/[\u0000-\u001f\u007f]+/g, " "), bytes), what);
  const values = [
    // A key that cannot be stored as it is (a control character in a file name, over 1,024 bytes)
    // is recorded shown, so its failure still reaches status.
    dialect.string(clip(visibleKey(o.sourceKey), 1024), "source key"),
    str(o.sourceVersion, "source version", 1024),
    o.sourceSha256 ? hex(o.sourceSha256, "source sha256") : "CAST(NULL AS VARCHAR(64))",
    o.loadId ? hex(o.loadId, "load id") : "CAST(NULL AS VARCHAR(64))",
    dialect.string(o.stage, "stage"),
    dialect.string(o.outcome, "outcome"),
    str(o.reason, "reason", 1024),
    int(o.rowsRead, "rowsRead"),
    int(o.transactionsNew, "transactionsNew"),
    int(o.transactionsDuplicate, "transactionsDuplicate"),
    int(o.rowsRejected, "rowsRejected"),
    int(o.warnings, "warnings"),
    timestamp(o.recordedAt ?? new Date().toISOString(), true),
  ];
  return `INSERT INTO file_outcomes (${FILE_OUTCOMES_COLUMNS.join(", ")}) VALUES (${values.join(", ")})`;
}

export function selectLoadStatement(loadId: string): string {
  return `SELECT ${LOADS_COLUMNS.join(", ")} FROM loads WHERE load_id = ${hex(loadId, "loadId")}`;
}

/** A `loads` row found before loading: what a load of it again would report. */
export function loadResultFromRow(row: Record<string, unknown>): LoadResult {
  const n = (v: unknown) => Number(v ?? 0);
  return {
    loadId: String(row.load_id),
    loaded: false,
    outcome: "already_loaded",
    rowsRead: n(row.rows_read),
    transactionsNew: 0,
    transactionsDuplicate: n(row.rows_read) - n(row.rows_rejected),
    rowsRejected: n(row.rows_rejected),
    warnings: n(row.warnings),
  };
}
