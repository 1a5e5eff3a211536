// What identifies a sale (docs/design.md §4), top to bottom. Ids are deterministic, so any file can
// be transformed alone, twice, or in any order and give the same rows.
//
//   branch_id       = sha256(branch name), first 128 bits                       (not secret)
//   product_id      = sha256(product ␟ size ␟ flavour), first 128 bits          (not secret)
//   transaction_id  = HMAC-SHA256(key, the sale's content), first 128 bits      (saleContent)
//                     for the first line of a file with that content; the n-th identical line
//                     (n ≥ 2) gets HMAC-SHA256(key, "occurrence" ␟ first id ␟ n)   (occurrenceContent)
//
// One till line is one sale: two identical lines stay two sales (numbered by `Occurrences`), and
// the same file's content seen again gets the same ids, so the load adds each sale once.
import { hash } from "node:crypto";
import { hmacSha256 } from "./hmac.js";
import { RecentIds, OCCURRENCE_WINDOW } from "./id-set.js";
import { ITEM_CACHE_LIMIT, type Item, type PaymentMethod } from "./rules.js";

/** Separates the fields of a hashed message (ASCII unit separator: never in a CSV field's text). */
const SEP = "\u001f";
/** Separates the items of a basket in a sale's content (record separator). */
const ITEM_SEP = "\u001e";
const hash128 = (text: string) => hash("sha256", text, "hex").slice(0, 32);

/** A branch is its name, as written (each spelling is its own branch). */
export const branchId = (branchName: string): string => hash128(branchName);

/** A product is its name, size and flavour; its price may change and is kept on the item row. */
export const productId = (product: string, size: string | null, flavour: string | null): string => hash128([product, size ?? "", flavour ?? ""].join(SEP));

/** One basket item inside a sale's content: size, product, flavour and price in pence. */
const itemText = (item: Item) => `${item.size ?? ""}${SEP}${item.product}${SEP}${item.flavour ?? ""}${SEP}${item.pricePence}`;

/** The sale columns a sale's id is made of (engine/records.ts `RawSales` holds them). */
export interface SaleContentColumns {
  time: string[];
  branch: string[];
  customerName: string[];
  payment: PaymentMethod[];
  totalPence: Float64Array;
  /** The items of sale i are items[itemStart[i]] up to items[itemStart[i + 1]]. */
  itemStart: Int32Array;
  items: Item[];
}

/**
 * The content a sale's id is keyed over: time, branch, trimmed customer name, its items in sorted
 * order (so the order a basket was listed in does not matter), total and payment. The card number is
 * left out: spreadsheet re-saves mangle it (`7.92528E+15`). Without the key, the id reveals nothing
 * about the customer.
 */
export const saleContent = (time: string, branch: string, customerName: string, sortedItems: string, totalPence: number, payment: PaymentMethod): string =>
  `${time}${SEP}${branch}${SEP}${customerName.trim()}${SEP}${sortedItems}${SEP}${totalPence}${SEP}${payment}`;

/**
 * The keyed id of a sale's first occurrence in its file (`saleContent` under HMAC-SHA256), its first
 * 128 bits written as 16 bytes into `out` at `at` (32 hex chars in the files).
 */
export function transactionIds(transactionIdKey: string | Buffer): (sales: SaleContentColumns, sale: number, out: Uint8Array, at: number) => void {
  const hmac = hmacSha256(transactionIdKey);
  const texts = new Map<Item, string>();
  const textOf = (item: Item) => {
    let text = texts.get(item);
    if (text === undefined) {
      text = itemText(item);
      if (texts.size < ITEM_CACHE_LIMIT) texts.set(item, text);
    }
    return text;
  };
  const sorted: string[] = [];
  return (sales, sale, out, at) => {
    // Baskets hold a handful of items: an insertion sort beats Array#sort's machinery here.
    const from = sales.itemStart[sale]!;
    const count = sales.itemStart[sale + 1]! - from;
    let items = textOf(sales.items[from]!);
    if (count > 1) {
      sorted[0] = items;
      for (let n = 1; n < count; n++) {
        const text = textOf(sales.items[from + n]!);
        let at = n;
        for (; at > 0 && sorted[at - 1]! > text; at--) sorted[at] = sorted[at - 1]!;
        sorted[at] = text;
      }
      items = sorted[0]!;
      for (let n = 1; n < count; n++) items += ITEM_SEP + sorted[n]!;
    }
    hmac(saleContent(sales.time[sale]!, sales.branch[sale]!, sales.customerName[sale]!, items, sales.totalPence[sale]!, sales.payment[sale]!), out, at, 16);
  };
}

/** The 32 hex digits of the 16 bytes at `at`. */
const hexAt = (bytes: Uint8Array, at: number) => Buffer.from(bytes.buffer, bytes.byteOffset + at, 16).toString("hex");

/** What the n-th identical sale's id is keyed over: the first one's id and n. */
export const occurrenceContent = (firstIdHex: string, n: number): string => `occurrence${SEP}${firstIdHex}${SEP}${n}`;

/**
 * The id of the n-th identical sale of one file (n ≥ 2): `occurrenceContent` under HMAC-SHA256, its
 * first 128 bits written at `outAt`. The first occurrence keeps the plain id, so a sale's id changes
 * only if it repeats.
 */
export function occurrenceIds(transactionIdKey: string | Buffer): OccurrenceId {
  const hmac = hmacSha256(transactionIdKey);
  return (first, at, n, out, outAt) => hmac(occurrenceContent(hexAt(first, at), n), out, outAt, 16);
}

/** Writes the id of the n-th occurrence of the sale whose first id is at `at` (`occurrenceIds`). */
export type OccurrenceId = (first: Uint8Array, at: number, n: number, out: Uint8Array, outAt: number) => void;

/**
 * Numbers identical sales of one file in file order (docs/design.md §4): the first keeps its id,
 * the n-th gets the n-th occurrence id. A sale counts as identical to one of the last `window`
 * to 2 x `window` sales (`RecentIds`): exact within files of up to `window` sales; in larger
 * files, an identical line further away than that would get the first one's id again (and be
 * kept once by the load), a rare loss traded for flat memory.
 */
export class Occurrences {
  private readonly seen: RecentIds;
  private readonly first = new Uint8Array(16);

  constructor(
    private readonly occurrenceId: OccurrenceId,
    private readonly window: number = OCCURRENCE_WINDOW,
  ) {
    this.seen = new RecentIds(window);
  }

  /**
   * The last n given to each repeated sale (by its first id in hex): the k-th copy starts its search at
   * the last n + 1 instead of 2, so a file of k identical lines costs k keyed hashes, not k²/2 (1,064
   * identical lines took 5 s). Within the window the n found is the same as a search from 2, since
   * every id before it is still remembered. Cleared when it reaches the window's size (flat memory;
   * a search then starts from 2 again, correct but slower).
   */
  private readonly lastN = new Map<string, number>();

  /** Numbers the sale whose first-occurrence id is at `at` in `ids`, writing its final id there; returns n. */
  number(ids: Uint8Array, at: number): number {
    if (this.seen.addBytes(ids, at)) return 1;
    this.first.set(ids.subarray(at, at + 16));
    const first = Buffer.from(this.first).toString("hex");
    let n = (this.lastN.get(first) ?? 1) + 1;
    for (; ; n++) {
      this.occurrenceId(this.first, 0, n, ids, at);
      if (this.seen.addBytes(ids, at)) break;
    }
    if (this.lastN.size >= this.window) this.lastN.clear();
    this.lastN.set(first, n);
    return n;
  }
}
