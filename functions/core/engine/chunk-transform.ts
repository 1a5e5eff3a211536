// The transform of one chunk of a raw file: its lines through csv-parse, then the steps, then CSV
// text per table. Runs in the calling thread or in a worker (transform-worker.ts); `merge.ts`
// joins the chunks.
import { formatPence, TOTAL_DIFFERS, totalDiffers, type Reject } from "../rules.js";
import type { Chunk } from "./chunks.js";
import { csvField } from "./csv-writer.js";
import { parse } from "./parse.js";
import { readRecords } from "./read-lines.js";
import type { Entities } from "./records.js";
import { clean, keepOnce, firstNormalForm, normalise, numberOccurrences, rowsOf } from "./steps.js";

export interface ChunkOptions {
  transactionIdKey: string | Buffer;
  sourceKey: string;
  /**
   * true (default): identical sales are numbered here (`numberOccurrences`), for a transformer
   * that sees every chunk in order. false: for worker threads that see only some chunks; ids stay
   * first-occurrence ids and the merge numbers them in file order.
   */
  numberOccurrences?: boolean;
  /** Sales remembered to number identical ones (see `Occurrences`). */
  occurrenceWindow?: number;
  /** Branches the file may hold (an uploader's); rows of others are rejected. Any when omitted. */
  branches?: readonly string[];
}

/** A chunk's output: table text in file order, with what the merge needs. */
export interface ChunkResult {
  index: number;
  /** Readable sales in the chunk. */
  sales: number;
  branches: Array<{ id: string; line: string }>;
  products: Array<{ id: string; line: string }>;
  /** Ids of the rows of `transactions`, in order: 16 bytes each (not yet numbered, unless numbered here). */
  transactionIds: Uint8Array;
  /** CSV lines as UTF-8. */
  transactions: Uint8Array;
  /** Number of `transaction_items` lines of each transaction, in order. */
  itemCounts: Int32Array;
  items: Uint8Array;
  /** Lines rejected, in line order: line and reason, never content. */
  rejects: Reject[];
  /** Of the rejected lines, those that are not text (NUL bytes, invalid UTF-8). */
  notText: number;
  /** Lines loaded with a warning (a total that differs from its items), in line order. */
  warnings: Reject[];
}

/** Where a chunk's output bytes go: a fresh array by default (see transform-worker.ts). */
export type Allocate = (bytes: number) => Uint8Array;
const freshBytes: Allocate = (bytes) => new Uint8Array(bytes);

/** One file's chunk transformer. Each instance keeps the steps' state for the chunks it sees. */
export function createChunkTransformer(options: ChunkOptions, allocate: Allocate = freshBytes) {
  const numbering = options.numberOccurrences === false ? undefined : numberOccurrences(options.transactionIdKey, options.occurrenceWindow);
  const steps = {
    parse: parse(options.branches ? { branches: options.branches } : {}),
    clean: clean(options.transactionIdKey),
    normalise: normalise(),
    keepOnce: keepOnce(),
  };
  const render = renderer(options.sourceKey, allocate);
  return (chunk: Chunk): ChunkResult => {
    const records = readRecords(chunk);
    // Only the first chunk can hold a header.
    const sales = steps.parse(records, { first: chunk.index === 0 });
    const cleaned = steps.clean(sales);
    const entities = steps.keepOnce(steps.normalise(firstNormalForm(numbering ? numbering(cleaned) : cleaned)));
    return { ...render(entities), index: chunk.index, sales: sales.count, notText: records.notText };
  };
}

/** Longest text of a pence amount (`formatPence`) and of an Int32 quantity. */
const AMOUNT_CHARS = 16;
const QUANTITY_CHARS = 11;
const ID_CHARS = 32;
const TIME_CHARS = 19;
const PAYMENT_CHARS = 4;
const COMMA = 44;
const NEWLINE = 10;

/** The two ASCII hex digits of each byte value, as one 16-bit number (high digit first). */
const HEX_PAIRS = Uint16Array.from({ length: 256 }, (_, byte) => {
  const digits = byte.toString(16).padStart(2, "0");
  return (digits.charCodeAt(0) << 8) | digits.charCodeAt(1);
});

/**
 * CSV lines written straight into bytes. The fact tables hold only hex ids, digits, times and
 * payment words: copying their bytes is several times cheaper than building strings, joining
 * them and encoding the result.
 */
class ByteLines {
  readonly bytes: Uint8Array;
  at = 0;

  constructor(capacity: number, allocate: Allocate) {
    this.bytes = allocate(capacity);
  }

  /** Writes `piece`, then `end` (a comma or a newline). */
  field(piece: Uint8Array, end: number): void {
    const { bytes } = this;
    let at = this.at;
    for (let i = 0; i < piece.length; i++) bytes[at++] = piece[i]!;
    bytes[at++] = end;
    this.at = at;
  }

  /** Writes the 16 bytes at `from` in `key` as 32 lowercase hex digits, then `end`. */
  hex(key: Uint8Array, from: number, end: number): void {
    const { bytes } = this;
    let at = this.at;
    for (let i = from; i < from + 16; i++) {
      const pair = HEX_PAIRS[key[i]!]!;
      bytes[at++] = pair >> 8;
      bytes[at++] = pair & 255;
    }
    bytes[at++] = end;
    this.at = at;
  }

  done(): Uint8Array {
    // Typed arrays drop writes past their end: a wrong capacity must fail, never truncate.
    if (this.at > this.bytes.length) throw new Error(`rendered ${this.at} bytes into room for ${this.bytes.length}`);
    return this.bytes.subarray(0, this.at);
  }
}

/** UTF-8 bytes of the texts that repeat all through a file (ids, times), made once. */
function encoder() {
  const cache = new Map<string, Uint8Array>();
  return (text: string): Uint8Array => {
    let bytes = cache.get(text);
    if (bytes === undefined) {
      bytes = Buffer.from(text);
      if (cache.size < 100_000) cache.set(text, bytes);
    }
    return bytes;
  };
}

/** An encoder for a column whose value mostly repeats the row before (branch, time, payment). */
function runEncoder() {
  const encode = encoder();
  let lastText: string | undefined;
  let lastBytes: Uint8Array = new Uint8Array(0);
  return (text: string): Uint8Array => {
    if (text !== lastText) {
      lastText = text;
      lastBytes = encode(text);
    }
    return lastBytes;
  };
}

/** Entities to the CSV lines of each table file, with what the merge needs. */
function renderer(sourceKey: string, allocate: Allocate) {
  const source = Buffer.from(csvField(sourceKey));
  const productBytes = encoder();
  const branchBytes = runEncoder();
  const timeBytes = runEncoder();
  const paymentBytes = runEncoder();
  const amounts: Uint8Array[] = [];
  // Prices and totals repeat all day long: format each amount once.
  const amountBytes = (pence: number) => (pence < 100_000 ? (amounts[pence] ??= Buffer.from(formatPence(pence))) : Buffer.from(formatPence(pence)));
  const quantities = Array.from({ length: 10 }, (_, n) => Buffer.from(String(n)));
  return (e: Entities): Omit<ChunkResult, "index" | "sales" | "notText"> => {
    const t = e.transactions;
    const it = e.transactionItems;
    const saleRows = rowsOf(t);
    const itemRows = rowsOf(it);
    const itemCounts = new Int32Array(saleRows.length);
    const warnings: Reject[] = [];
    const keys = allocate(saleRows.length * 16);
    const transactions = new ByteLines(saleRows.length * (2 * ID_CHARS + TIME_CHARS + PAYMENT_CHARS + AMOUNT_CHARS + 6 + source.length), allocate);
    const items = new ByteLines(itemRows.length * (2 * ID_CHARS + AMOUNT_CHARS + QUANTITY_CHARS + 4), allocate);
    let k = 0;
    for (let x = 0; x < saleRows.length; x++) {
      const sale = saleRows[x]!;
      while (k < itemRows.length && it.sale[itemRows[k]!]! < sale) k++;
      const first = k;
      for (; k < itemRows.length && it.sale[itemRows[k]!] === sale; k++) {
        const i = itemRows[k]!;
        const price = it.unitPricePence[i]!;
        const quantity = it.quantity[i]!;
        items.hex(t.transactionId, sale * 16, COMMA);
        items.field(productBytes(it.productId[i]!), COMMA);
        items.field(amountBytes(price), COMMA);
        items.field(quantity < 10 ? quantities[quantity]! : Buffer.from(String(quantity)), NEWLINE);
      }
      itemCounts[x] = k - first;
      if (totalDiffers(t.itemsPence[sale]!, t.totalPence[sale]!)) warnings.push({ line: t.line[sale]!, reason: TOTAL_DIFFERS });
      keys.set(t.transactionId.subarray(sale * 16, sale * 16 + 16), x * 16);
      const total = t.totalPence[sale]!;
      transactions.hex(t.transactionId, sale * 16, COMMA);
      transactions.field(branchBytes(t.branchId[sale]!), COMMA);
      transactions.field(timeBytes(t.time[sale]!), COMMA);
      transactions.field(paymentBytes(t.payment[sale]!), COMMA);
      transactions.field(amountBytes(total), COMMA);
      transactions.field(source, NEWLINE);
    }
    return {
      branches: e.branches.map((b) => ({ id: b.branchId, line: `${b.branchId},${csvField(b.branchName)}\n` })),
      products: e.products.map((p) => ({
        id: p.productId,
        line: `${p.productId},${csvField(p.productName)},${p.size ?? ""},${p.flavour === null ? "" : csvField(p.flavour)}\n`,
      })),
      transactionIds: keys,
      transactions: transactions.done(),
      itemCounts,
      items: items.done(),
      rejects: e.rejects,
      warnings,
    };
  };
}
