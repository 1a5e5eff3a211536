// Record types that flow between the transform steps. Money is integer pence throughout.

export type Size = "Regular" | "Large";
export type PaymentMethod = "CASH" | "CARD";

/** A basket item as sold. Treated as immutable: `parse` may hand out one object for equal items. */
export interface Item {
  /** `null` when the file does not say (legacy rows with an empty size): unknown, never guessed. */
  size: Size | null;
  product: string;
  flavour: string | null;
  pricePence: number;
}

/** A readable row of a raw file, still holding personal data: only `parse` and `clean` see it. */
export interface RawSale {
  kind: "sale";
  line: number;
  /** Naive local time, `YYYY-MM-DD HH:MM:SS`. */
  time: string;
  branch: string;
  customerName: string;
  cardNumber: string;
  items: Item[];
  totalPence: number;
  payment: PaymentMethod;
}

/** A row that could not be read: its line and why, never its content. */
export interface Reject {
  kind: "reject";
  line: number;
  reason: string;
}

/** A sale after `clean`: personal data gone, identified by its keyed id. */
export interface Sale {
  kind: "sale";
  line: number;
  transactionId: string;
  time: string;
  branch: string;
  items: Item[];
  totalPence: number;
  payment: PaymentMethod;
}

/** One basket item per record (first normal form), carrying its sale's attributes. */
export interface SaleItem {
  kind: "item";
  item: Item;
  line: number;
  transactionId: string;
  time: string;
  branch: string;
  totalPence: number;
  payment: PaymentMethod;
  /** Position in the basket and basket length, so later steps know where a sale ends. */
  index: number;
  count: number;
}

export interface BranchRow { table: "branches"; branchId: string; branchName: string }
export interface ProductRow { table: "products"; productId: string; productName: string; size: Size | null; flavour: string | null }
export interface TransactionRow {
  table: "transactions";
  transactionId: string;
  branchId: string;
  time: string;
  payment: PaymentMethod;
  totalPence: number;
  line: number;
  /** Sum of the sale's item prices, to flag totals that differ from the basket. */
  itemsPence: number;
}
export interface TransactionItemRow {
  table: "transaction_items";
  transactionId: string;
  productId: string;
  unitPricePence: number;
  quantity: number;
}

/** Rows of the 3NF entities, as `normalise` emits them and `dedupe` passes them on. */
export type EntityRow = BranchRow | ProductRow | TransactionRow | TransactionItemRow;
