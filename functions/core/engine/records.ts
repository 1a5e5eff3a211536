// What flows between the transform steps. Each step takes and returns one chunk's rows as
// columns (a struct of arrays, like an Arrow record batch) rather than an object per row: a
// million sales then cost a few arrays per chunk instead of millions of short-lived objects.
// Money is integer pence throughout. The values' own types (Item, PaymentMethod, Reject) are the
// rules' (rules.ts).
import type { Item, PaymentMethod, Reject, Size } from "../rules.js";

/** csv-parse's records of one chunk, one per physical line (blank lines left out), and the lines it could not read. */
export interface CsvRecords {
  fields: string[][];
  /** Line each record ends on. */
  line: Int32Array;
  rejects: Reject[];
  /** Rejected lines that are not text at all (NUL bytes, invalid UTF-8). */
  notText: number;
}

/**
 * Readable sales of one chunk, a column per attribute. The basket is a list column: the items of
 * sale `i` are `items[itemStart[i]]` up to (not including) `items[itemStart[i + 1]]`.
 */
export interface SaleColumns {
  count: number;
  line: Int32Array;
  /** Naive local time, `YYYY-MM-DD HH:MM:SS`. */
  time: string[];
  branch: string[];
  payment: PaymentMethod[];
  totalPence: Float64Array;
  itemStart: Int32Array;
  items: Item[];
  /** Rows no step could read, in line order; every step passes them on. */
  rejects: Reject[];
}

/** `parse`'s output: still holding personal data, which only `clean` sees. */
export interface RawSales extends SaleColumns {
  customerName: string[];
  cardNumber: string[];
}

/** After `clean`: personal data gone, each sale identified by its keyed id. */
export interface Sales extends SaleColumns {
  /** Each sale's keyed id as bytes, 16 per sale (32 hex chars in the files): cheap to compare and to send between threads. */
  transactionId: Uint8Array;
}

/** First normal form: the basket list column unnested, one row per item naming its sale. */
export interface SaleItems extends Sales {
  /** Sale (index into the sale columns) of each item row; rows of one sale are adjacent. */
  itemSale: Int32Array;
}

export interface BranchRow {
  branchId: string;
  branchName: string;
}

export interface ProductRow {
  productId: string;
  productName: string;
  size: Size | null;
  flavour: string | null;
}

export interface TransactionColumns {
  count: number;
  transactionId: Uint8Array;
  branchId: string[];
  time: string[];
  payment: PaymentMethod[];
  totalPence: Float64Array;
  line: Int32Array;
  /** Sum of each sale's item prices, to flag totals that differ from the basket. */
  itemsPence: Float64Array;
}

export interface TransactionItemColumns {
  count: number;
  /** Index of the item's transaction in `TransactionColumns`. */
  sale: Int32Array;
  productId: string[];
  unitPricePence: Float64Array;
  quantity: Int32Array;
}

/**
 * The 3NF entities of one chunk. `branches` and `products` hold only the entities met for the
 * first time. A `selected` list (rows kept, in order) is how `keepOnce` drops rows without
 * copying columns; without one every row is kept.
 */
export interface Entities {
  branches: BranchRow[];
  products: ProductRow[];
  transactions: TransactionColumns & { selected?: Int32Array };
  transactionItems: TransactionItemColumns & { selected?: Int32Array };
  rejects: Reject[];
}
