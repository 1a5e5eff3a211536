// Joins chunk results in file order into the output files: each branch and product once, every
// sale (numbered here when the chunks were transformed apart, in worker threads), and each
// reject and warning with its line and reason.
import type { Reject } from "../rules.js";
import { Occurrences, occurrenceIds } from "../sale-identity.js";
import type { ChunkResult } from "./chunk-transform.js";
import { csvField, type TableFiles } from "./csv-writer.js";
import { addNew } from "./steps.js";

const ID_BYTES = 16;
/** Rejects and warnings kept in the manifest, for `ingest` to show the first few. */
export const FIRST_NOTES = 10;

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

export class ChunkMerger {
  private readonly branches = new Set<string>();
  private readonly products = new Set<string>();
  /** Numbers identical sales across chunks transformed apart; none when one transformer saw every chunk in order. */
  private readonly occurrences: Occurrences | undefined;
  salesRead = 0;
  rejected = 0;
  /** Rejected lines that are not text (NUL bytes, invalid UTF-8). */
  notText = 0;
  warnings = 0;
  readonly firstRejects: Reject[] = [];
  readonly firstWarnings: Reject[] = [];

  /** `numberHere`: chunks were transformed apart (in several workers), so sales are numbered here. */
  constructor(
    private readonly files: TableFiles,
    numberHere: boolean,
    options: { transactionIdKey: string | Buffer; occurrenceWindow?: number | undefined },
  ) {
    this.occurrences = numberHere ? new Occurrences(occurrenceIds(options.transactionIdKey), options.occurrenceWindow) : undefined;
  }

  add(result: ChunkResult): void {
    const f = this.files.files;
    this.salesRead += result.sales;
    for (const { id, line } of result.branches) if (addNew(this.branches, id)) f.branches.text(line, 1);
    for (const { id, line } of result.products) if (addNew(this.products, id)) f.products.text(line, 1);
    if (result.rejects.length) {
      this.rejected += result.rejects.length;
      this.notText += result.notText;
      f.rejects.text(notesCsv(result.rejects), result.rejects.length);
      keepFirst(this.firstRejects, result.rejects);
    }
    if (result.warnings.length) {
      this.warnings += result.warnings.length;
      f.warnings.text(notesCsv(result.warnings), result.warnings.length);
      keepFirst(this.firstWarnings, result.warnings);
    }

    const count = result.itemCounts.length;
    const itemRows = result.itemCounts.reduce((a, b) => a + b, 0);
    const renumbered = this.number(result);
    if (renumbered.length === 0) {
      f.transactions.text(result.transactions, count);
      f.transaction_items.text(result.items, itemRows);
      return;
    }
    // Some sale repeats an earlier one: write its occurrence id over the first-occurrence id
    // that opens its transaction line and each of its item lines (a copy, never the input).
    const transactions = Buffer.from(result.transactions);
    const items = Buffer.from(result.items);
    const saleLines = lineStarts(transactions);
    const itemLines = lineStarts(items);
    const itemAt = new Int32Array(count + 1);
    for (let i = 0; i < count; i++) itemAt[i + 1] = itemAt[i]! + result.itemCounts[i]!;
    for (const { sale, id } of renumbered) {
      transactions.write(id, saleLines[sale]!, "latin1");
      for (let k = itemAt[sale]!; k < itemAt[sale + 1]!; k++) items.write(id, itemLines[k]!, "latin1");
    }
    f.transactions.text(transactions, count);
    f.transaction_items.text(items, itemRows);
  }

  /** The chunk's sales that got an occurrence id other than the one they came with, with that id in hex. */
  private number(result: ChunkResult): Array<{ sale: number; id: string }> {
    if (!this.occurrences) return [];
    const ids = result.transactionIds.slice();
    const renumbered: Array<{ sale: number; id: string }> = [];
    for (let i = 0; i < result.itemCounts.length; i++) {
      if (this.occurrences.number(ids, i * ID_BYTES) === 1) continue;
      let hex = "";
      for (let b = i * ID_BYTES; b < (i + 1) * ID_BYTES; b++) hex += HEX[ids[b]!]!;
      renumbered.push({ sale: i, id: hex });
    }
    return renumbered;
  }
}

const notesCsv = (notes: Reject[]) => notes.map((n) => `${n.line},${csvField(n.reason)}\n`).join("");

function keepFirst(kept: Reject[], notes: Reject[]): void {
  for (let i = 0; i < notes.length && kept.length < FIRST_NOTES; i++) kept.push(notes[i]!);
}

/** Offset of each line's start in `bytes`. */
function lineStarts(bytes: Buffer): number[] {
  const starts = [0];
  for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, at + 1)) starts.push(at + 1);
  return starts;
}
