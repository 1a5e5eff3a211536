// `parse`: one chunk's CSV records → typed sale columns (and rejects), row by row through the
// rules (rules.ts `rowReader`). Columns rather than an object per sale: a million sales cost a few
// arrays per chunk (records.ts).
import { rowReader, looksLikeHeader, type Item, type PaymentMethod, type Reject, type RowReaderOptions } from "../rules.js";
import type { CsvRecords, RawSales } from "./records.js";

/** Where a chunk sits in its file: whether a header may open it. */
export interface ChunkPlace {
  /** The chunk starts the file, so its first record may be a header row (skipped). */
  first: boolean;
}

export type ParseOptions = RowReaderOptions;

/** Creates the `parse` step for one file; call it on each chunk's records in file order. */
export function parse(options: ParseOptions = {}) {
  const readRow = rowReader(options);
  return function parseChunk(records: CsvRecords, place: ChunkPlace): RawSales {
    const { fields } = records;
    const n = fields.length;
    const line = new Int32Array(n);
    const time: string[] = [];
    const branch: string[] = [];
    const payment: PaymentMethod[] = [];
    const totalPence = new Float64Array(n);
    const itemStart = new Int32Array(n + 1);
    const basketItems: Item[] = [];
    const customerName: string[] = [];
    const cardNumber: string[] = [];
    const rejects: Reject[] = [];
    let count = 0;
    for (let r = 0; r < n; r++) {
      const f = fields[r]!;
      const at = records.line[r]!;
      if (r === 0 && place.first && looksLikeHeader(f)) continue;
      const row = readRow(f, basketItems);
      if (typeof row === "string") {
        basketItems.length = itemStart[count]!;
        rejects.push({ line: at, reason: row });
        continue;
      }
      line[count] = at;
      time.push(row.time);
      branch.push(row.branch);
      payment.push(row.payment);
      totalPence[count] = row.totalPence;
      customerName.push(row.customerName);
      cardNumber.push(row.cardNumber);
      itemStart[++count] = basketItems.length;
    }
    return {
      count,
      line: line.subarray(0, count),
      time,
      branch,
      payment,
      totalPence: totalPence.subarray(0, count),
      itemStart: itemStart.subarray(0, count + 1),
      items: basketItems,
      customerName,
      cardNumber,
      rejects: mergeByLine(records.rejects, rejects),
    };
  };
}

/** Two line-ordered lists of rejects as one. */
function mergeByLine(a: Reject[], b: Reject[]): Reject[] {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  return [...a, ...b].sort((x, y) => x.line - y.line);
}
