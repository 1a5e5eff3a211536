// The transform of one chunk of a raw file: csv-parse, then the steps, then CSV text per table.
// Runs in the calling thread or in a worker (transform-worker.ts); `merge.ts` joins the chunks.
import { parse as parseCsv } from "csv-parse/sync";
import { csvField } from "./csv-writer.js";
import type { Chunk } from "./chunks.js";
import { formatPence } from "./money.js";

/** Prices and totals repeat all day long: format each amount once. */
const PENCE_TEXT = new Map<number, string>();
const penceText = (pence: number): string => {
  let text = PENCE_TEXT.get(pence);
  if (text === undefined) {
    text = formatPence(pence);
    if (PENCE_TEXT.size < 100_000) PENCE_TEXT.set(pence, text);
  }
  return text;
};
import { parse, type CsvRecord, type Variant } from "./parse.js";
import type { Reject } from "./records.js";
import { clean, dedupe, firstNormalForm, normalise } from "./steps.js";

export interface ChunkOptions {
  secret: string | Buffer;
  sourceKey: string;
}

/** A chunk's output: table text in file order, with what the merge needs to drop repeats. */
export interface ChunkResult {
  index: number;
  /** Readable sales in the chunk (before dedupe). */
  sales: number;
  branches: Array<{ id: string; line: string }>;
  products: Array<{ id: string; line: string }>;
  /** Transaction ids, 32 hex chars each, concatenated, in the order of `transactions`. */
  transactionIds: string;
  /** CSV lines; UTF-8 bytes when they cross from a worker (transferred, not copied). */
  transactions: string | Uint8Array;
  /** `transaction_items` lines of each transaction, in order. */
  itemCounts: number[];
  items: string | Uint8Array;
  rejects: string;
  rejected: number;
  /** Positions (in `transactionIds`) and lines of sales whose total differs from their items. */
  warnings: Array<{ position: number; line: number }>;
}

const NEWLINE = 10;
const CSV_OPTIONS = { trim: true, relax_column_count: true, relax_quotes: true, skip_records_with_error: true } as const;

/**
 * csv-parse over one chunk, with the line each record ends on; blank lines are left out and
 * records csv-parse must skip become rejects in their place. (No `info` option: it costs a
 * third of csv-parse's time; the skip error says where it happened.)
 */
export function readRecords(chunk: Chunk): Array<CsvRecord | Reject> {
  const skips: Array<{ records: number; lines: number; code: string }> = [];
  const rows = parseCsv(chunk.bytes, {
    ...CSV_OPTIONS,
    bom: chunk.index === 0,
    on_skip: (error) => {
      const e = error as unknown as { records: number; lines: number; code: string };
      skips.push({ records: e.records, lines: e.lines, code: e.code });
    },
  }) as string[][];
  const out: Array<CsvRecord | Reject> = [];
  const bytes = chunk.bytes;
  let lines = bytes.length > 0 && bytes[bytes.length - 1] !== NEWLINE ? 1 : 0;
  for (let at = bytes.indexOf(NEWLINE); at !== -1; at = bytes.indexOf(NEWLINE, at + 1)) lines++;
  const oneRecordPerLine = skips.length === 0 && rows.length === lines;
  let line = chunk.firstLine - 1;
  let skip = 0;
  for (let i = 0; i <= rows.length; i++) {
    while (skip < skips.length && skips[skip]!.records === i) {
      const s = skips[skip++]!;
      line = chunk.firstLine - 1 + s.lines;
      out.push({ kind: "reject", line, reason: `malformed CSV (${s.code})` });
    }
    if (i === rows.length) break;
    const fields = rows[i]!;
    line++;
    // When every physical line is one record (the usual case) no field can hold a line break.
    if (!oneRecordPerLine) for (const field of fields) if (field.includes("\n")) line += field.split("\n").length - 1;
    if (fields[0] === "" && fields.every((field) => field === "")) continue;
    out.push({ fields, line });
  }
  return out;
}

/** One file's chunk transformer. Each instance keeps the steps' state for the chunks it sees. */
export function createChunkTransformer(options: ChunkOptions) {
  const steps = { clean: clean(options.secret), normalise: normalise(), dedupe: dedupe() };
  const sourceKey = csvField(options.sourceKey);
  return (chunk: Chunk, variant: Variant | undefined): ChunkResult => {
    // Only the first chunk can hold a header; the variant is the file's, found by the caller.
    const parseChunk = parse({ variant, header: chunk.index === 0 });
    const rows = steps.dedupe(steps.normalise(firstNormalForm(steps.clean(parseChunk(readRecords(chunk))))));
    const result: ChunkResult = {
      index: chunk.index,
      sales: 0,
      branches: [],
      products: [],
      transactionIds: "",
      transactions: "",
      itemCounts: [],
      items: "",
      rejects: "",
      rejected: 0,
      warnings: [],
    };
    // Lines are collected in arrays and joined once: cheaper than growing strings.
    const ids: string[] = [];
    const transactions: string[] = [];
    const itemLines: string[] = [];
    const rejects: string[] = [];
    // dedupe emits each sale's items just before the sale: count them as they come.
    let items = 0;
    for (const row of rows) {
      if (!("table" in row)) {
        rejects.push(`${row.line},${csvField(row.reason)}\n`);
        continue;
      }
      switch (row.table) {
        case "branches":
          result.branches.push({ id: row.branchId, line: `${row.branchId},${csvField(row.branchName)}\n` });
          break;
        case "products":
          result.products.push({
            id: row.productId,
            line: `${row.productId},${csvField(row.productName)},${row.size ?? ""},${row.flavour === null ? "" : csvField(row.flavour)}\n`,
          });
          break;
        case "transaction_items":
          itemLines.push(`${row.transactionId},${row.productId},${penceText(row.unitPricePence)},${row.quantity}\n`);
          items++;
          break;
        case "transactions":
          if (row.itemsPence !== row.totalPence) result.warnings.push({ position: ids.length, line: row.line });
          ids.push(row.transactionId);
          transactions.push(`${row.transactionId},${row.branchId},${row.time},${row.payment},${penceText(row.totalPence)},${sourceKey}\n`);
          result.itemCounts.push(items);
          items = 0;
          break;
      }
    }
    result.transactionIds = ids.join("");
    result.transactions = transactions.join("");
    result.items = itemLines.join("");
    result.rejects = rejects.join("");
    result.rejected = rejects.length;
    result.sales = parseChunk.sales;
    return result;
  };
}
