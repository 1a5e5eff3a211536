// The load SQL (DESIGN section 6), shared by the PostgreSQL and Redshift warehouses.
// Only the COPY statement differs between the two; everything here runs unchanged on both.
// The Data API's BatchExecuteStatement takes no parameters, so values are inlined, and only
// values that are checked here (hex ids, ISO timestamps, integers) are ever inlined.
import type { LoadRequest } from "../app/ports.js";
import { COLUMNS, CREATE_TABLES, KEYS, LOADS_COLUMNS, TABLES, type TableName } from "../core/schema.js";

export { CREATE_TABLES };

export const stagingTable = (table: TableName): string => `stage_${table}`;

export interface LoadFacts {
  loadId: string;
  sourceSha256: string;
  loadedAt: string;
  rowsRead: number;
  rowsRejected: number;
  warnings: number;
}

/** The facts of a load request that its SQL records. */
export function loadFacts(request: LoadRequest): LoadFacts {
  const { manifest } = request;
  return {
    loadId: request.loadId,
    sourceSha256: manifest.source.sha256,
    loadedAt: request.loadedAt,
    rowsRead: manifest.rowsRead,
    rowsRejected: manifest.rejected,
    warnings: manifest.warnings,
  };
}

const hex = (value: string, what: string): string => {
  if (!/^[0-9a-f]{1,64}$/.test(value)) throw new Error(`${what} must be lowercase hex, got ${JSON.stringify(value)}`);
  return `'${value}'`;
};
const count = (value: number, what: string): string => {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${what} must be a non-negative integer, got ${value}`);
  return String(value);
};
const timestamp = (value: string): string => {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?Z$/.exec(value);
  if (!m) throw new Error(`loadedAt must be an ISO UTC timestamp, got ${JSON.stringify(value)}`);
  return `CAST('${m[1]} ${m[2]}' AS TIMESTAMP)`;
};

/** Empty staging tables shaped like their targets, without keys or indexes. */
export function createStagingStatements(): string[] {
  return TABLES.map((t) => `CREATE TEMP TABLE ${stagingTable(t)} (LIKE ${t})`);
}

export function dropStagingStatements(): string[] {
  return TABLES.map((t) => `DROP TABLE ${stagingTable(t)}`);
}

/**
 * After COPY into staging: records the load, drops staged sales the warehouse already has,
 * then inserts what is new. Re-running it for the same load changes nothing.
 */
export function mergeStatements(facts: LoadFacts): string[] {
  const loadId = hex(facts.loadId, "loadId");
  const valid = facts.rowsRead - facts.rowsRejected;
  const statements: string[] = [
    // Counted before the delete below; the derived tables each return exactly one row.
    `INSERT INTO loads (${LOADS_COLUMNS.join(", ")})
SELECT ${loadId}, k.source_key, ${hex(facts.sourceSha256, "sourceSha256")}, ${timestamp(facts.loadedAt)},
  ${count(facts.rowsRead, "rowsRead")}, n.c, ${count(valid, "valid rows")} - n.c, ${count(facts.rowsRejected, "rowsRejected")}, ${count(facts.warnings, "warnings")}
FROM (SELECT MAX(source_key) AS source_key FROM ${stagingTable("transactions")}) k
CROSS JOIN (SELECT COUNT(DISTINCT s.transaction_id) AS c FROM ${stagingTable("transactions")} s
  WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.transaction_id = s.transaction_id)) n
WHERE NOT EXISTS (SELECT 1 FROM loads WHERE load_id = ${loadId})`,
    `DELETE FROM ${stagingTable("transactions")} USING transactions
WHERE ${stagingTable("transactions")}.transaction_id = transactions.transaction_id`,
  ];
  for (const table of ["branches", "products"] as const) {
    statements.push(insertNew(table));
  }
  const cols = COLUMNS.transactions.join(", ");
  statements.push(`INSERT INTO transactions (${cols}) SELECT DISTINCT ${cols} FROM ${stagingTable("transactions")}`);
  const itemCols = COLUMNS.transaction_items.map((c) => `s.${c}`).join(", ");
  // Items of sales already loaded stay out with their sale; a new sale has no items yet.
  statements.push(`INSERT INTO transaction_items (${COLUMNS.transaction_items.join(", ")})
SELECT DISTINCT ${itemCols} FROM ${stagingTable("transaction_items")} s
WHERE EXISTS (SELECT 1 FROM ${stagingTable("transactions")} n WHERE n.transaction_id = s.transaction_id)`);
  return statements;
}

function insertNew(table: TableName): string {
  const cols = COLUMNS[table];
  const match = KEYS[table].map((k) => `t.${k} = s.${k}`).join(" AND ");
  return `INSERT INTO ${table} (${cols.join(", ")})
SELECT DISTINCT ${cols.map((c) => `s.${c}`).join(", ")} FROM ${stagingTable(table)} s
WHERE NOT EXISTS (SELECT 1 FROM ${table} t WHERE ${match})`;
}

export function selectLoadStatement(loadId: string): string {
  return `SELECT ${LOADS_COLUMNS.join(", ")} FROM loads WHERE load_id = ${hex(loadId, "loadId")}`;
}

/** A `loads` row (as any driver returns it) to the result the services report. */
export function loadResultFromRow(row: Record<string, unknown>, loaded: boolean) {
  const n = (v: unknown) => Number(v ?? 0);
  return {
    loadId: String(row.load_id),
    loaded,
    rowsRead: n(row.rows_read),
    transactionsNew: loaded ? n(row.transactions_new) : 0,
    transactionsDuplicate: loaded ? n(row.transactions_duplicate) : n(row.rows_read) - n(row.rows_rejected),
    rowsRejected: n(row.rows_rejected),
    warnings: n(row.warnings),
  };
}
