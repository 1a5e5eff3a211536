// Joins chunk results in file order into the table files: each branch and product once, and each
// sale once among the recent ones (`RecentIds`; chunks were deduplicated only within themselves).
import type { ChunkResult } from "./chunk-transform.js";
import type { TableFiles } from "./csv-writer.js";
import { RecentIds } from "./id-set.js";
import { addNew } from "./steps.js";

const ID_BYTES = 16;
const MAX_WARNING_LINES = 100;

export class ChunkMerger {
  private readonly branches = new Set<string>();
  private readonly products = new Set<string>();
  /** Sales seen in earlier chunks; none when the chunks were transformed in order by one transformer. */
  private readonly sales: RecentIds | undefined;
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
    acrossChunks: boolean,
    dedupeWindow?: number,
  ) {
    this.sales = acrossChunks ? new RecentIds(dedupeWindow) : undefined;
  }

  add(result: ChunkResult): void {
    const f = this.files.files;
    this.salesRead += result.sales;
    for (const { id, line } of result.branches) if (addNew(this.branches, id)) f.branches.text(line, 1);
    for (const { id, line } of result.products) if (addNew(this.products, id)) f.products.text(line, 1);
    if (result.rejected) {
      this.firstReject ??= result.rejects.slice(0, result.rejects.indexOf("\n"));
      f.rejects.text(result.rejects, result.rejected);
    }

    const count = result.itemCounts.length;
    const keep: boolean[] = new Array(count);
    let kept = 0;
    for (let i = 0; i < count; i++) {
      keep[i] = this.sales?.addBytes(result.transactionIds, i * ID_BYTES) ?? true;
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
    // Some sale was already written by an earlier chunk: copy the other lines' bytes.
    const saleLines = lineRanges(result.transactions);
    const itemLines = lineRanges(result.items);
    const sales: Uint8Array[] = [];
    const items: Uint8Array[] = [];
    let keptItems = 0;
    for (let i = 0, at = 0; i < count; at += result.itemCounts[i]!, i++) {
      if (!keep[i]) continue;
      sales.push(result.transactions.subarray(saleLines[i]!, saleLines[i + 1]!));
      const n = result.itemCounts[i]!;
      if (n > 0) items.push(result.items.subarray(itemLines[at]!, itemLines[at + n]!));
      keptItems += n;
    }
    f.transactions.text(Buffer.concat(sales), kept);
    f.transaction_items.text(Buffer.concat(items), keptItems);
  }
}

/** Offsets of each line's start in `bytes`, and its end. */
function lineRanges(bytes: Uint8Array): number[] {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const starts = [0];
  for (let at = buffer.indexOf(10); at !== -1; at = buffer.indexOf(10, at + 1)) starts.push(at + 1);
  return starts;
}
