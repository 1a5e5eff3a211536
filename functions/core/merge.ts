// Joins chunk results in file order into the table files: each branch, product and sale once
// across the whole file (chunks were deduplicated only within themselves).
import type { ChunkResult } from "./chunk-transform.js";
import type { TableFiles } from "./csv-writer.js";
import { IdSet } from "./id-set.js";

const ID_LENGTH = 32;
const utf8 = new TextDecoder();
const MAX_WARNING_LINES = 100;

export class ChunkMerger {
  private readonly branches = new Set<string>();
  private readonly products = new Set<string>();
  private readonly sales = new IdSet();
  salesRead = 0;
  warnings = 0;
  /** The first rejected row (`line,reason`), to explain a file in which nothing could be read. */
  firstReject: string | undefined;
  readonly warningLines: number[] = [];

  /**
   * `acrossChunks`: chunks were deduplicated apart (in several workers), so sales must be checked
   * against earlier chunks here; a single transformer has already seen every chunk in order.
   */
  constructor(
    private readonly files: TableFiles,
    private readonly acrossChunks: boolean,
  ) {}

  add(result: ChunkResult): void {
    const f = this.files.files;
    this.salesRead += result.sales;
    for (const { id, line } of result.branches) if (!this.branches.has(id) && this.branches.add(id)) f.branches.text(line, 1);
    for (const { id, line } of result.products) if (!this.products.has(id) && this.products.add(id)) f.products.text(line, 1);
    if (result.rejected) {
      this.firstReject ??= result.rejects.slice(0, result.rejects.indexOf("\n"));
      f.rejects.text(result.rejects, result.rejected);
    }

    const count = result.itemCounts.length;
    const keep: boolean[] = new Array(count);
    let kept = 0;
    for (let i = 0; i < count; i++) {
      keep[i] = !this.acrossChunks || this.sales.add(result.transactionIds.slice(i * ID_LENGTH, (i + 1) * ID_LENGTH));
      if (keep[i]) kept++;
    }
    for (const w of result.warnings) {
      if (!keep[w.position]) continue;
      this.warnings++;
      if (this.warningLines.length < MAX_WARNING_LINES) this.warningLines.push(w.line);
    }
    const itemRows = result.itemCounts.reduce((a, b) => a + b, 0);
    if (kept === count) {
      // The usual case: nothing in this chunk was seen before.
      f.transactions.text(result.transactions, count);
      f.transaction_items.text(result.items, itemRows);
      return;
    }
    const asText = (lines: string | Uint8Array) => (typeof lines === "string" ? lines : utf8.decode(lines));
    const sales = asText(result.transactions).split("\n");
    const items = asText(result.items).split("\n");
    let transactions = "";
    let itemText = "";
    let keptItems = 0;
    for (let i = 0, at = 0; i < count; at += result.itemCounts[i]!, i++) {
      if (!keep[i]) continue;
      transactions += sales[i] + "\n";
      for (let k = at; k < at + result.itemCounts[i]!; k++) itemText += items[k] + "\n";
      keptItems += result.itemCounts[i]!;
    }
    f.transactions.text(transactions, kept);
    f.transaction_items.text(itemText, keptItems);
  }
}
