// The warehouse schema (DESIGN section 5), the one place it is written down.
// Types are chosen to run unchanged on Redshift and PostgreSQL. Primary keys are declared (and
// enforced by PostgreSQL); uniqueness on Redshift comes from the load (warehouse/sql.ts).
// References (transactions.branch_id → branches, transaction_items → transactions and products)
// are kept by the load, which inserts parents first and children only for loaded sales, and are
// checked by the tests; they are not declared as FOREIGN KEYs because Redshift would not enforce
// them and PostgreSQL's row-by-row checks made bulk loads three times slower.
// transaction_id is a keyed hash of the sale and its occurrence number among identical sales of
// its file (DESIGN section 3): one till line is one sale, and the same file's content seen again
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
] as const;

export const CREATE_TABLES: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS branches (
  branch_id VARCHAR(32) NOT NULL PRIMARY KEY,
  branch_name VARCHAR(100) NOT NULL
)`,
  `CREATE TABLE IF NOT EXISTS products (
  product_id VARCHAR(32) NOT NULL PRIMARY KEY,
  product_name VARCHAR(100) NOT NULL,
  size VARCHAR(16) NULL,
  flavour VARCHAR(100) NULL
)`,
  `CREATE TABLE IF NOT EXISTS transactions (
  transaction_id VARCHAR(32) NOT NULL PRIMARY KEY,
  branch_id VARCHAR(32) NOT NULL,
  transaction_time TIMESTAMP NOT NULL,
  payment_method VARCHAR(8) NOT NULL,
  total_amount DECIMAL(10,2) NOT NULL,
  source_key VARCHAR(1024) NOT NULL
)`,
  `CREATE TABLE IF NOT EXISTS transaction_items (
  transaction_id VARCHAR(32) NOT NULL,
  product_id VARCHAR(32) NOT NULL,
  unit_price DECIMAL(10,2) NOT NULL,
  quantity INTEGER NOT NULL,
  PRIMARY KEY (transaction_id, product_id, unit_price)
)`,
  `CREATE TABLE IF NOT EXISTS loads (
  load_id VARCHAR(64) NOT NULL PRIMARY KEY,
  source_key VARCHAR(1024),
  source_sha256 VARCHAR(64),
  loaded_at TIMESTAMP,
  rows_read INTEGER,
  transactions_new INTEGER,
  transactions_duplicate INTEGER,
  rows_rejected INTEGER,
  warnings INTEGER
)`,
];
