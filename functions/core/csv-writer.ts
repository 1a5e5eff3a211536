// `write`: entity rows → per-table CSV text with a header row, in the schema's column order.
// Fields are ids, numbers and names of known shape, so quoting needs only the rule below.
import { PassThrough } from "node:stream";
import { formatPence } from "./money.js";
import type { EntityRow, Reject } from "./records.js";
import { COLUMNS, type TableName } from "./schema.js";

const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;
export const csvField = (value: string): string => (NEEDS_QUOTES.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

const FLUSH_AT = 64 * 1024;

/** Text output of one table file; buffers lines into ~64 KB chunks. */
export class CsvFile {
  readonly stream = new PassThrough();
  rows = 0;
  private buffer = "";

  constructor(header: readonly string[]) {
    this.buffer = header.join(",") + "\n";
    // A failed transform destroys its outputs with the error; consumers that attach later
    // (an upload still starting) see the stream closed early, and the process must not crash.
    this.stream.on("error", () => {});
  }

  /** Appends a line; false when the consumer is behind (wait for `drained()`). */
  line(text: string): boolean {
    this.rows++;
    this.buffer += text + "\n";
    return this.buffer.length < FLUSH_AT || this.flush();
  }

  flush(): boolean {
    if (!this.buffer) return true;
    const ok = this.stream.write(this.buffer);
    this.buffer = "";
    return ok;
  }

  drained(): Promise<void> {
    return this.stream.writableNeedDrain ? new Promise((resolve) => this.stream.once("drain", resolve)) : Promise.resolve();
  }

  end(): void {
    this.flush();
    this.stream.end();
  }
}

export type OutputName = TableName | "rejects";

/** The five output files of a transform, and the writing of rows into them. */
export class TableFiles {
  readonly files: Record<OutputName, CsvFile> = {
    branches: new CsvFile(COLUMNS.branches),
    products: new CsvFile(COLUMNS.products),
    transactions: new CsvFile(COLUMNS.transactions),
    transaction_items: new CsvFile(COLUMNS.transaction_items),
    rejects: new CsvFile(["line_number", "reason"]),
  };
  private readonly sourceKeyField: string;

  constructor(sourceKey: string) {
    this.sourceKeyField = csvField(sourceKey);
  }

  write(row: EntityRow | Reject): void {
    const f = this.files;
    if (!("table" in row)) {
      f.rejects.line(`${row.line},${csvField(row.reason)}`);
      return;
    }
    switch (row.table) {
      case "branches":
        f.branches.line(`${row.branchId},${csvField(row.branchName)}`);
        break;
      case "products":
        f.products.line(`${row.productId},${csvField(row.productName)},${row.size ?? ""},${row.flavour === null ? "" : csvField(row.flavour)}`);
        break;
      case "transactions":
        f.transactions.line(`${row.transactionId},${row.branchId},${row.time},${row.payment},${formatPence(row.totalPence)},${this.sourceKeyField}`);
        break;
      case "transaction_items":
        f.transaction_items.line(`${row.transactionId},${row.productId},${formatPence(row.unitPricePence)},${row.quantity}`);
        break;
    }
  }

  /** Resolves once every consumer has caught up. */
  async drained(): Promise<void> {
    for (const file of Object.values(this.files)) await file.drained();
  }

  end(): void {
    for (const file of Object.values(this.files)) file.end();
  }

  destroy(error: Error): void {
    for (const file of Object.values(this.files)) file.stream.destroy(error);
  }
}
