// The load SQL (docs/design.md §7), shared by the PostgreSQL and Redshift warehouses. A batch of
// manifests is one transaction: LOCK of the loaders' own lock table (first, so that under SNAPSHOT or
// SERIALIZABLE isolation concurrent loaders queue before either has read anything; the data tables
// are never locked, so dashboards read on while a load runs), staging tables,
// one COPY per table over all files of the batch (the only part that differs between warehouses),
// then portable statements: key check, already-loaded files, superseded versions, new sales, one
// `loads` row and one `file_outcomes` row per file. The Data API's BatchExecuteStatement takes no
// parameters, so values are inlined: hex ids, ISO timestamps and integers are checked here, strings
// go through the dialect's literal function.
import type { FileOutcome, LoadRequest, LoadResult } from "../app/ports.js";
import { visibleKey } from "../core/errors.js";
import { ORDER_PATTERN } from "../core/version-order.js";
import { COLUMNS, FILE_OUTCOMES_COLUMNS, KEYS, LOAD_LOCK_TABLE, LOADS_COLUMNS, TABLES, type TableName } from "../core/schema.js";

export { CREATE_TABLES } from "../core/schema.js";

/** What differs between PostgreSQL and Redshift in the load's SQL, besides COPY. */
export interface Dialect {
  /** A string literal; refuses what cannot be written safely. */
  string(value: string, what: string): string;
  /** The statement that opens every load transaction: the exclusive lock of the loaders' lock table. */
  lock(table: string): string;
}

// A control character is never part of a key or a version; refusing them keeps literals one line.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** PostgreSQL (standard_conforming_strings on, the default since 9.1): only `'` is special. */
export const POSTGRES_DIALECT: Dialect = {
  string(value, what) {
    if (CONTROL.test(value)) throw new Error(`${what} contains a control character`);
    return `'${value.replace(/'/g, "''")}'`;
  },
  // As on Redshift (ACCESS EXCLUSIVE), on a table only loaders touch: loaders queue, readers never do.
  lock: (table) => `LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`,
};

export const stagingTable = (table: TableName): string => `stage_${table}`;

/** The NOT NULL column a load writes NULL into when the warehouse was keyed with another key. */
export const KEY_CHECK_COLUMN = "warehouse_keyed_with_another_transaction_id_key";

/** A load refused because the warehouse's sales were keyed with another transaction-id key. */
export class KeyMismatchError extends Error {
  constructor(
    readonly warehouseFingerprint: string | undefined,
    readonly loadFingerprint: string,
  ) {
    super(
      `the warehouse's sales were keyed with the transaction-id key of fingerprint ${warehouseFingerprint ?? "(unknown)"}, ` +
        `but this load's were keyed with ${loadFingerprint}: loading it would give every sale a second id`,
    );
    this.name = "KeyMismatchError";
  }
}

/** True when a warehouse error is the key check's refusal. */
export const isKeyCheckFailure = (error: unknown): boolean => String((error as Error)?.message ?? error).includes(KEY_CHECK_COLUMN);

const hex = (value: string, what: string): string => {
  if (!/^[0-9a-f]{1,64}$/.test(value)) throw new Error(`${what} must be lowercase hex, got ${JSON.stringify(value)}`);
  return `'${value}'`;
};
const count = (value: number, what: string): string => {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${what} must be a non-negative integer, got ${value}`);
  return String(value);
};
/** An ISO UTC timestamp as a TIMESTAMP literal; whole seconds unless `fraction` (as dashboards read them). */
export const timestamp = (value: string, fraction = false): string => {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d{1,6})?Z$/.exec(value);
  if (!m) throw new Error(`timestamp must be an ISO UTC timestamp, got ${JSON.stringify(value)}`);
  return `CAST('${m[1]} ${m[2]}${fraction ? (m[3] ?? "") : ""}' AS TIMESTAMP)`;
};
const optional = (value: string | undefined | null, literal: (v: string) => string, type: string) =>
  value === undefined || value === null ? `CAST(NULL AS ${type})` : literal(value);

/** Cuts text to at most `bytes` UTF-8 bytes (VARCHAR(n) counts bytes on Redshift). */
export function clip(text: string, bytes: number): string {
  if (Buffer.byteLength(text) <= bytes) return text;
  let out = Buffer.from(text).subarray(0, bytes - 3).toString("utf8");
  while (Buffer.byteLength(out + "...") > bytes || out.endsWith("\uFFFD")) out = out.slice(0, -1);
  return out + "...";
}

export interface LoadStatements {
  /** Lock, staging tables and the batch's file list; COPY into staging comes right after. */
  prepare: string[];
  /** Everything after COPY, up to the per-file result. */
  merge: string[];
  /** The per-file result: `stage_files` rows in request order (see `resultsFromRows`). */
  result: string;
  /** Temporary tables to drop where the session outlives the transaction (PostgreSQL). */
  cleanup: string[];
}

const SOURCE = (alias: string) => `${alias}.source_key`;

/**
 * The statements of one batch load. Requests must share one key fingerprint and no raw key.
 * Per file, sales the warehouse did not hold count as new for the first file of the batch that
 * holds them; the rest of its valid rows are duplicates.
 */
export function loadStatements(dialect: Dialect, requests: LoadRequest[], loadedAt: string): LoadStatements {
  if (requests.length === 0) throw new Error("a load batch needs at least one manifest");
  const fingerprint = requests[0]!.keyFingerprint;
  const keys = new Set<string>();
  for (const r of requests) {
    if (r.keyFingerprint !== fingerprint) throw new Error("a load batch's manifests must share one key fingerprint");
    if (keys.has(r.manifest.source.key)) throw new Error(`a load batch holds two manifests of ${r.manifest.source.key}`);
    keys.add(r.manifest.source.key);
  }
  const fp = hex(fingerprint, "key fingerprint");
  const at = timestamp(loadedAt);
  // Outcomes keep milliseconds, so one file's successive outcomes sort in the order they happened.
  const recorded = timestamp(loadedAt, true);
  const str = (what: string) => (v: string) => dialect.string(v, what);
  const order = (v: string) => {
    if (!ORDER_PATTERN.test(v)) throw new Error(`source order malformed: ${JSON.stringify(v)}`);
    return `'${v}'`;
  };

  const files = requests.map((r, fileNo) => {
    const m = r.manifest;
    const valid = m.rowsRead - m.rejected;
    count(valid, `valid rows of ${r.loadId}`);
    return `(${fileNo}, ${hex(r.loadId, "loadId")}, ${dialect.string(m.source.key, "source key")}, ${optional(r.sourceVersion, str("source version"), "VARCHAR(1024)")}, ${optional(r.sourceOrder, order, "VARCHAR(64)")}, ${hex(m.source.sha256, "source sha256")}, ${count(m.rowsRead, "rowsRead")}, ${count(m.rejected, "rejected")}, ${count(m.warnings, "warnings")}, 'loaded', 0)`;
  });

  const prepare = [
    dialect.lock(LOAD_LOCK_TABLE),
    ...TABLES.map((t) => `CREATE TEMP TABLE ${stagingTable(t)} (LIKE ${t})`),
    `CREATE TEMP TABLE stage_files (
  file_no INTEGER NOT NULL, load_id VARCHAR(64) NOT NULL, source_key VARCHAR(1024) NOT NULL, source_version VARCHAR(1024),
  source_order VARCHAR(64), source_sha256 VARCHAR(64) NOT NULL, rows_read INTEGER NOT NULL, rows_rejected INTEGER NOT NULL, warnings INTEGER NOT NULL,
  outcome VARCHAR(16), superseded_load_id VARCHAR(64), newer_load_id VARCHAR(64), transactions_new INTEGER)`,
    `CREATE TEMP TABLE key_check (${KEY_CHECK_COLUMN} INTEGER NOT NULL)`,
    `INSERT INTO stage_files (file_no, load_id, source_key, source_version, source_order, source_sha256, rows_read, rows_rejected, warnings, outcome, transactions_new) VALUES\n${files.join(",\n")}`,
  ];

  /** Several files: a sale two of them bring needs a pass of its own (a large file loads alone). */
  const several = requests.length > 1;
  const ST = stagingTable("transactions");
  const SI = stagingTable("transaction_items");
  const cols = (table: TableName, alias: string) => COLUMNS[table].map((c) => `${alias}.${c}`).join(", ");
  const merge = [
    // One identity per warehouse: a NOT NULL violation names the refusal; the first load records it.
    `INSERT INTO key_check SELECT CAST(NULL AS INTEGER) FROM warehouse_identity WHERE key_fingerprint <> ${fp}`,
    `INSERT INTO warehouse_identity (key_fingerprint, created_at)
SELECT ${fp}, ${at} FROM (SELECT COUNT(*) AS n FROM warehouse_identity) c WHERE c.n = 0`,
    // Against its key's current load: the same load was loaded before, or this is an older version
    // than the current one arriving late (a redelivered or redriven message, a slower loader), which
    // is superseded on arrival. Either way nothing of it is written. (One statement for both: a
    // several-file batch must stay within the Data API's 40.)
    `UPDATE stage_files SET outcome = CASE WHEN l.load_id = stage_files.load_id THEN 'already_loaded' ELSE 'superseded' END,
  newer_load_id = CASE WHEN l.load_id = stage_files.load_id THEN CAST(NULL AS VARCHAR(64)) ELSE l.load_id END
FROM loads l
WHERE l.source_key = stage_files.source_key AND l.superseded_by IS NULL
  AND (l.load_id = stage_files.load_id OR stage_files.source_order < l.source_order)`,
    // The current version of each loaded file's raw key, which this load supersedes.
    `UPDATE stage_files SET superseded_load_id = l.load_id FROM loads l
WHERE l.source_key = stage_files.source_key AND l.superseded_by IS NULL AND l.load_id <> stage_files.load_id AND stage_files.outcome = 'loaded'`,
    // Who holds a sale (docs/design.md §7.4): the current load of its source_key (the file that
    // brought it), and each load listed for it in load_sales (files that held it when it was
    // already in). A superseded version's listings go; sales its key brought that the new
    // version no longer holds move to another current holder, or go with their items.
    `DELETE FROM load_sales WHERE load_id IN (SELECT superseded_load_id FROM stage_files WHERE superseded_load_id IS NOT NULL)`,
    // (Two steps: as one statement with NOT EXISTS, a planner without statistics of a young
    // warehouse scanned the staged sales once per sale held: 4.5 s for nothing to supersede.)
    `CREATE TEMP TABLE stage_orphans AS
SELECT t.transaction_id, t.source_key FROM transactions t JOIN stage_files f ON t.source_key = f.source_key
WHERE f.superseded_load_id IS NOT NULL`,
    `DELETE FROM stage_orphans USING ${ST} s WHERE s.transaction_id = stage_orphans.transaction_id AND s.source_key = stage_orphans.source_key`,
    // Another holder: a load listing it, or a file of this batch holding it.
    `CREATE TEMP TABLE stage_rehomed AS
SELECT h.transaction_id, MIN(h.source_key) AS source_key FROM (
  SELECT o.transaction_id, l.source_key FROM stage_orphans o JOIN load_sales m ON m.transaction_id = o.transaction_id JOIN loads l ON l.load_id = m.load_id
  UNION ALL
  SELECT o.transaction_id, s.source_key FROM stage_orphans o JOIN ${ST} s ON s.transaction_id = o.transaction_id
  JOIN stage_files sf ON sf.source_key = ${SOURCE("s")} WHERE sf.outcome = 'loaded'
) h GROUP BY h.transaction_id`,
    // (The new bringer's own listing may stay: a listing of a sale's own source_key changes nothing.)
    `UPDATE transactions SET source_key = r.source_key FROM stage_rehomed r WHERE transactions.transaction_id = r.transaction_id`,
    `DELETE FROM transaction_items USING stage_orphans o
WHERE transaction_items.transaction_id = o.transaction_id AND o.transaction_id NOT IN (SELECT transaction_id FROM stage_rehomed)`,
    `DELETE FROM transactions USING stage_orphans o
WHERE transactions.transaction_id = o.transaction_id AND o.transaction_id NOT IN (SELECT transaction_id FROM stage_rehomed)`,
    `UPDATE loads SET superseded_by = f.load_id FROM stage_files f WHERE loads.load_id = f.superseded_load_id`,
    // A version loaded again after another replaced it (a re-upload of the original) is current again.
    `DELETE FROM loads USING stage_files f WHERE loads.load_id = f.load_id AND f.outcome = 'loaded'`,
    // Staged sales the warehouse holds (every sale of an already-loaded file among them) stay out,
    // with their items; a loaded file lists those another file brought. A sale's time is part of
    // its identity, so only the staged period needs checking: on Redshift the sort key on
    // transaction_time skips the rest.
    `CREATE TEMP TABLE stage_held AS
SELECT DISTINCT t.transaction_id, t.source_key FROM transactions t JOIN ${ST} s ON t.transaction_id = s.transaction_id
WHERE t.transaction_time >= (SELECT MIN(transaction_time) FROM ${ST})
  AND t.transaction_time <= (SELECT MAX(transaction_time) FROM ${ST})`,
    // A sale two files of the batch bring is new for the first of them. (A batch of one file,
    // the usual large load, skips this pass over its sales.)
    ...(several
      ? [
          `CREATE TEMP TABLE stage_shared AS
SELECT s.transaction_id, MIN(f.file_no) AS file_no FROM ${ST} s JOIN stage_files f ON f.source_key = ${SOURCE("s")}
WHERE s.transaction_id NOT IN (SELECT transaction_id FROM stage_held) AND f.outcome = 'loaded'
GROUP BY s.transaction_id HAVING MIN(f.file_no) < MAX(f.file_no)`,
        ]
      : []),
    // Each loaded file lists the sales it holds that another file brought.
    `INSERT INTO load_sales (transaction_id, load_id)
SELECT DISTINCT x.transaction_id, x.load_id FROM (
  SELECT h.transaction_id, f.load_id FROM stage_held h JOIN ${ST} s ON s.transaction_id = h.transaction_id
  JOIN stage_files f ON f.source_key = ${SOURCE("s")}
  WHERE f.outcome = 'loaded' AND h.source_key <> f.source_key${
    several
      ? `
  UNION ALL
  SELECT d.transaction_id, f.load_id FROM stage_shared d JOIN ${ST} s ON s.transaction_id = d.transaction_id
  JOIN stage_files f ON f.source_key = ${SOURCE("s")}
  WHERE f.file_no > d.file_no AND f.outcome = 'loaded'`
      : ""
  }
) x
ORDER BY 1, 2`,
    `DELETE FROM ${ST} USING stage_held h WHERE ${ST}.transaction_id = h.transaction_id`,
    `DELETE FROM ${SI} USING stage_held h WHERE ${SI}.transaction_id = h.transaction_id`,
    ...(several
      ? [
          `DELETE FROM ${ST} USING stage_shared d, stage_files f
WHERE ${ST}.transaction_id = d.transaction_id AND f.source_key = ${ST}.source_key AND f.file_no > d.file_no`,
        ]
      : []),
    // What is left staged is new: each file's own new sales.
    // (Grouped, not COUNT(DISTINCT): a hash instead of a sort of every staged sale, half the time.
    // Identical lines further apart than the occurrence window share one id: counted once.)
    `UPDATE stage_files SET transactions_new = c.n
FROM (SELECT source_key, COUNT(*) AS n FROM (SELECT transaction_id, source_key FROM ${ST} GROUP BY transaction_id, source_key) s GROUP BY source_key) c
WHERE c.source_key = stage_files.source_key AND stage_files.outcome = 'loaded'`,
    `INSERT INTO loads (${LOADS_COLUMNS.join(", ")})
SELECT load_id, source_key, source_sha256, ${at}, rows_read, transactions_new, rows_read - rows_rejected - transactions_new, rows_rejected, warnings,
  source_version, CAST(NULL AS VARCHAR(64)), source_order
FROM stage_files WHERE outcome = 'loaded'`,
    insertNew("branches"),
    insertNew("products"),
    // Rows go in in key order: PostgreSQL's primary-key B-trees then fill page after page instead
    // of at random. DISTINCT: identical copies of a sale (and of its items) within the batch.
    // Only loaded files' sales: a version superseded on arrival is staged but never written.
    `INSERT INTO transactions (${COLUMNS.transactions.join(", ")})
SELECT DISTINCT ${cols("transactions", "s")} FROM ${ST} s JOIN stage_files f ON f.source_key = ${SOURCE("s")} WHERE f.outcome = 'loaded'
ORDER BY 1`,
    `INSERT INTO transaction_items (${COLUMNS.transaction_items.join(", ")})
SELECT DISTINCT ${cols("transaction_items", "s")} FROM ${SI} s
WHERE s.transaction_id IN (SELECT x.transaction_id FROM ${ST} x JOIN stage_files f ON f.source_key = ${SOURCE("x")} WHERE f.outcome = 'loaded')
ORDER BY 1, 2, 3`,
    `INSERT INTO file_outcomes (${FILE_OUTCOMES_COLUMNS.join(", ")})
SELECT f.source_key, f.source_version, f.source_sha256, f.load_id, 'load',
  CASE WHEN f.outcome = 'loaded' AND f.rows_read = 0 THEN 'withdrawn' ELSE f.outcome END,
  CASE WHEN f.outcome = 'superseded' THEN 'superseded on arrival: an older version than the current load ' || f.newer_load_id || ', which stays'
    WHEN f.outcome = 'loaded' AND f.rows_read = 0 THEN 'withdrawn: this version has no rows, so the file holds no sales'
    ELSE CAST(NULL AS VARCHAR(1024)) END,
  f.rows_read, f.transactions_new, f.rows_read - f.rows_rejected - f.transactions_new, f.rows_rejected, f.warnings, ${recorded}
FROM stage_files f
UNION ALL
SELECT l.source_key, l.source_version, l.source_sha256, l.load_id, 'load', 'superseded', 'superseded by load ' || f.load_id,
  l.rows_read, l.transactions_new, l.transactions_duplicate, l.rows_rejected, l.warnings, ${recorded}
FROM loads l JOIN stage_files f ON l.load_id = f.superseded_load_id`,
  ];
  const result = `SELECT file_no, load_id, outcome, superseded_load_id, newer_load_id, rows_read, transactions_new, rows_rejected, warnings FROM stage_files ORDER BY file_no`;
  const temporary = ["stage_files", "key_check", "stage_orphans", "stage_rehomed", "stage_held", ...(several ? ["stage_shared"] : [])];
  const cleanup = [...TABLES.map(stagingTable), ...temporary].map((t) => `DROP TABLE ${t}`);
  return { prepare, merge, result, cleanup };
}

function insertNew(table: TableName): string {
  const cols = COLUMNS[table];
  const match = KEYS[table].map((k) => `t.${k} = s.${k}`).join(" AND ");
  return `INSERT INTO ${table} (${cols.join(", ")})
SELECT DISTINCT ${cols.map((c) => `s.${c}`).join(", ")} FROM ${stagingTable(table)} s
WHERE NOT EXISTS (SELECT 1 FROM ${table} t WHERE ${match})`;
}

/** The rows of `loadStatements(...).result` (as any driver returns them) to results in request order. */
export function resultsFromRows(requests: LoadRequest[], rows: Record<string, unknown>[]): LoadResult[] {
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

export const SELECT_IDENTITY = "SELECT key_fingerprint FROM warehouse_identity";

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
