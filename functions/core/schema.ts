// The warehouse schema (docs/design.md §5), the one place it is written down: the portable DDL
// (PostgreSQL, PGlite) and the Redshift DDL beside it, generated from the same column lists.
// Primary keys are declared (enforced by PostgreSQL; informational on Redshift, where uniqueness
// comes from the load in warehouse/load/). References (transactions.branch_id → branches,
// transaction_items → transactions and products) are kept by the load, which inserts parents first
// and children only for loaded sales, and are checked by the tests; they are not declared as
// FOREIGN KEYs because Redshift would not enforce them and PostgreSQL's row-by-row checks made bulk
// loads three times slower.
// transaction_id is a keyed hash of the sale and its occurrence number among identical sales of
// its file (docs/design.md §4): one till line is one sale, and the same file's content seen again
// gets the same ids, so the load's insert-where-not-exists adds each sale once.

export const TABLES = ["branches", "products", "transactions", "transaction_items"] as const;
export type TableName = (typeof TABLES)[number];

/** Column order of each table file and of each table: the transform writes them, COPY reads them. */
export const COLUMNS: Record<TableName, readonly string[]> = {
  branches: ["branch_id", "branch_name"],
  products: ["product_id", "product_name", "size", "flavour"],
  transactions: ["transaction_id", "branch_id", "transaction_time", "payment_method", "total_amount", "source_key"],
  transaction_items: ["transaction_id", "product_id", "unit_price", "quantity"],
};

/** Columns that identify a row: the load skips staged rows whose key is already present. */
export const KEYS: Record<TableName, readonly string[]> = {
  branches: ["branch_id"],
  products: ["product_id"],
  transactions: ["transaction_id"],
  transaction_items: ["transaction_id", "product_id", "unit_price"],
};

/**
 * Limits of the columns the transform fills from raw text, checked before a row is written (a row
 * over them is rejected, never a load failed): VARCHAR(n) counts bytes (Redshift), and
 * DECIMAL(10,2) holds at most 99,999,999.99. Kept equal to CREATE_TABLES below (tests compare).
 */
export const COLUMN_LIMITS = {
  branch_name: 100,
  product_name: 100,
  flavour: 100,
  source_key: 1024,
  maxAmountPence: 9_999_999_999,
} as const;

export const LOADS_COLUMNS = [
  "load_id",
  "source_key",
  "source_sha256",
  "loaded_at",
  "rows_read",
  "transactions_new",
  "transactions_duplicate",
  "rows_rejected",
  "warnings",
  "source_version",
  "superseded_by",
  "source_order",
] as const;

export const FILE_OUTCOMES_COLUMNS = [
  "source_key",
  "source_version",
  "source_sha256",
  "load_id",
  "stage",
  "outcome",
  "reason",
  "rows_read",
  "transactions_new",
  "transactions_duplicate",
  "rows_rejected",
  "warnings",
  "recorded_at",
] as const;

/**
 * The loaders' own lock: a one-row table nobody else reads. Every load takes its exclusive lock as its
 * first statement, before its snapshot starts (LOCK does not start it), so loads run one after another
 * and each sees the last one's rows (exactly once, on Redshift's SNAPSHOT isolation too), while the
 * data tables are never locked: dashboards read them throughout a load.
 */
export const LOAD_LOCK_TABLE = "load_lock";

/**
 * `line_notes`: every rejected line and every line loaded with a warning of each loaded file (line
 * number and reason, never content), kept with the load history, so a file's rejects have an
 * answer after the transformed bucket's files expire. Written after the load's transaction, in a
 * small one of its own (warehouse/line-notes.ts).
 */
export const LINE_NOTES_COLUMNS = ["load_id", "line_number", "kind", "reason"] as const;

/** Every table a load writes. */
export const LOAD_TABLES = ["warehouse_identity", "loads", "load_sales", "branches", "products", "transactions", "transaction_items", "file_outcomes"] as const;

interface TableDef {
  name: string;
  columns: string[];
  primaryKey?: string[];
  /** Redshift physical design: distribution and sort keys. */
  redshift: string;
}

const DEFS: TableDef[] = [
  {
    name: "branches",
    columns: ["branch_id VARCHAR(32) NOT NULL", "branch_name VARCHAR(100) NOT NULL"],
    primaryKey: ["branch_id"],
    // Small dimension: a copy on every node, so joins to it never move rows.
    redshift: "DISTSTYLE ALL",
  },
  {
    name: "products",
    columns: ["product_id VARCHAR(32) NOT NULL", "product_name VARCHAR(100) NOT NULL", "size VARCHAR(16) NULL", "flavour VARCHAR(100) NULL"],
    primaryKey: ["product_id"],
    redshift: "DISTSTYLE ALL",
  },
  {
    name: "transactions",
    columns: [
      "transaction_id VARCHAR(32) NOT NULL",
      "branch_id VARCHAR(32) NOT NULL",
      "transaction_time TIMESTAMP NOT NULL",
      "payment_method VARCHAR(8) NOT NULL",
      "total_amount DECIMAL(10,2) NOT NULL",
      "source_key VARCHAR(1024) NOT NULL",
    ],
    primaryKey: ["transaction_id"],
    // Sales and their items on the same slice (the join of every dashboard and of the load);
    // sorted by time, so dashboards' time filters and the load's bounded duplicate check read
    // only the blocks of the period they ask about.
    redshift: "DISTKEY (transaction_id) SORTKEY (transaction_time)",
  },
  {
    name: "transaction_items",
    columns: ["transaction_id VARCHAR(32) NOT NULL", "product_id VARCHAR(32) NOT NULL", "unit_price DECIMAL(10,2) NOT NULL", "quantity INTEGER NOT NULL"],
    primaryKey: ["transaction_id", "product_id", "unit_price"],
    redshift: "DISTKEY (transaction_id) SORTKEY (transaction_id)",
  },
  {
    name: "loads",
    columns: [
      "load_id VARCHAR(64) NOT NULL",
      "source_key VARCHAR(1024)",
      "source_sha256 VARCHAR(64)",
      "loaded_at TIMESTAMP",
      "rows_read INTEGER",
      "transactions_new INTEGER",
      "transactions_duplicate INTEGER",
      "rows_rejected INTEGER",
      "warnings INTEGER",
      "source_version VARCHAR(1024)",
      // NULL while this load is its raw key's current version; else the load that replaced it.
      "superseded_by VARCHAR(64)",
      // The version's place among its key's versions (core/version-order.ts): an older one arriving
      // later changes nothing. NULL for loads made before it was recorded (never counted older).
      "source_order VARCHAR(64)",
    ],
    primaryKey: ["load_id"],
    redshift: "DISTSTYLE ALL",
  },
  {
    // The sales each current load's file holds that another file brought first (a sale is also
    // held by the current load of its source_key), so a new version of a raw key removes exactly
    // the sales no current file holds any more. A file's own new sales need no row here.
    name: "load_sales",
    columns: ["transaction_id VARCHAR(32) NOT NULL", "load_id VARCHAR(64) NOT NULL"],
    primaryKey: ["transaction_id", "load_id"],
    redshift: "DISTKEY (transaction_id) SORTKEY (load_id)",
  },
  {
    // One row: the fingerprint of the transaction-id key that keyed the sales (never the key).
    name: "warehouse_identity",
    columns: ["key_fingerprint VARCHAR(64) NOT NULL", "created_at TIMESTAMP NOT NULL"],
    redshift: "DISTSTYLE ALL",
  },
  {
    // Every file's outcome, for status and dashboards; failures say why, never with row content.
    name: "file_outcomes",
    columns: [
      "source_key VARCHAR(1024) NOT NULL",
      "source_version VARCHAR(1024)",
      "source_sha256 VARCHAR(64)",
      "load_id VARCHAR(64)",
      "stage VARCHAR(16) NOT NULL",
      "outcome VARCHAR(16) NOT NULL",
      "reason VARCHAR(1024)",
      "rows_read INTEGER",
      "transactions_new INTEGER",
      "transactions_duplicate INTEGER",
      "rows_rejected INTEGER",
      "warnings INTEGER",
      "recorded_at TIMESTAMP NOT NULL",
    ],
    redshift: "DISTSTYLE AUTO SORTKEY (recorded_at)",
  },
  {
    name: LOAD_LOCK_TABLE,
    columns: ["lock_id INTEGER NOT NULL"],
    redshift: "DISTSTYLE ALL",
  },
  {
    // A file's rejected lines and warnings (LINE_NOTES_COLUMNS above): kind 'rejected' or 'warning'.
    name: "line_notes",
    columns: ["load_id VARCHAR(64) NOT NULL", "line_number INTEGER NOT NULL", "kind VARCHAR(16) NOT NULL", "reason VARCHAR(1024)"],
    primaryKey: ["load_id", "line_number", "kind"],
    // Read one load at a time: sorted by it.
    redshift: "DISTSTYLE AUTO SORTKEY (load_id, line_number)",
  },
];

/** Its one row (two schema steps racing on Redshift, where no key holds, may leave two: harmless). */
const LOAD_LOCK_ROW = `INSERT INTO ${LOAD_LOCK_TABLE} (lock_id) SELECT 1 FROM (SELECT COUNT(*) AS n FROM ${LOAD_LOCK_TABLE}) c WHERE c.n = 0`;

/**
 * Keyed-hash ids (hex) compare byte by byte on PostgreSQL: under a server's linguistic collation
 * (en_US.UTF-8, even C.UTF-8 before PostgreSQL 17) every B-tree insert and sort of them called
 * strcoll, which made a 1,000,000-sale load's sorts and index inserts ~20% slower. Only columns
 * compared with each other get it (joins between collations would need a cast); names keep the
 * database's collation, so dashboards sort them as people read them. Redshift has no "C".
 */
const BYTE_ORDERED = /^(branch_id|product_id|transaction_id) (VARCHAR\(\d+\))/;

function createTable(def: TableDef, redshift: boolean): string {
  const columns = redshift ? def.columns : def.columns.map((c) => c.replace(BYTE_ORDERED, '$1 $2 COLLATE "C"'));
  const lines = [...columns, ...(def.primaryKey ? [`PRIMARY KEY (${def.primaryKey.join(", ")})`] : [])];
  return `CREATE TABLE IF NOT EXISTS ${def.name} (\n  ${lines.join(",\n  ")}\n)${redshift ? ` ${def.redshift}` : ""}`;
}

/** Portable DDL: PostgreSQL server and embedded PGlite. */
export const CREATE_TABLES: readonly string[] = [...DEFS.map((d) => createTable(d, false)), LOAD_LOCK_ROW];

/** Every table the schema step creates, in creation order. */
export const SCHEMA_TABLES: readonly string[] = DEFS.map((d) => d.name);

/** Redshift DDL: the same tables with their distribution and sort keys. */
export const REDSHIFT_CREATE_TABLES: readonly string[] = [...DEFS.map((d) => createTable(d, true)), LOAD_LOCK_ROW];

/** PostgreSQL only: the load's lookups by load and by raw key (Redshift scans its columns). */
export const CREATE_INDEXES: readonly string[] = [
  "CREATE INDEX IF NOT EXISTS load_sales_by_load ON load_sales (load_id)",
  // A superseded version's own sales are found by their raw key (one key per file: small to keep).
  "CREATE INDEX IF NOT EXISTS transactions_by_source ON transactions (source_key)",
  "CREATE INDEX IF NOT EXISTS loads_by_source ON loads (source_key)",
];

/** Columns added since the first release, for warehouses created before them. */
/** Columns added after the first release; warehouses created before get them at the schema step. */
export const ADDED_COLUMN_DEFS: ReadonlyArray<{ table: string; column: string; type: string }> = [
  { table: "loads", column: "source_version", type: "VARCHAR(1024)" },
  { table: "loads", column: "superseded_by", type: "VARCHAR(64)" },
  { table: "loads", column: "source_order", type: "VARCHAR(64)" },
];

/** PostgreSQL adds them idempotently; Redshift has no IF NOT EXISTS here (redshift-warehouse.ts checks first). */
export const ADDED_COLUMNS: readonly string[] = ADDED_COLUMN_DEFS.map((c) => `ALTER TABLE ${c.table} ADD COLUMN IF NOT EXISTS ${c.column} ${c.type}`);
