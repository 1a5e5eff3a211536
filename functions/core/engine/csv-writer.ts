// The output side of a transform: one CSV stream per table file, with a header row, written in
// ~64 KB pieces with backpressure. Fields are ids, numbers and names of known shape, so quoting
// needs only the rule below.
import { PassThrough } from "node:stream";
import { COLUMNS, type TableName } from "../schema.js";

const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;
export const csvField = (value: string): string => (NEEDS_QUOTES.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

const FLUSH_AT = 64 * 1024;

/** Text output of one table file. */
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

  /** Appends whole lines (text or UTF-8 bytes, each line ending in a newline) holding `rows` rows. */
  text(lines: string | Uint8Array, rows: number): void {
    this.rows += rows;
    if (typeof lines !== "string") {
      this.flush();
      // Shared memory is reused by its writer: copy it; other bytes are written as they are.
      const shared = lines.buffer instanceof SharedArrayBuffer;
      this.stream.write(shared ? Buffer.from(lines) : Buffer.from(lines.buffer, lines.byteOffset, lines.byteLength));
      return;
    }
    this.buffer += lines;
    if (this.buffer.length >= FLUSH_AT) this.flush();
  }

  private flush(): void {
    if (!this.buffer) return;
    this.stream.write(this.buffer);
    this.buffer = "";
  }

  /** Resolves when the consumer has caught up (call between pieces of work). */
  drained(): Promise<void> {
    return this.stream.writableNeedDrain ? new Promise((resolve) => this.stream.once("drain", resolve)) : Promise.resolve();
  }

  end(): void {
    this.flush();
    this.stream.end();
  }
}

export type OutputName = TableName | "rejects" | "warnings";

/** The six output files of a transform: the four tables, rejected lines, lines loaded with a warning. */
export class TableFiles {
  readonly files: Record<OutputName, CsvFile> = {
    branches: new CsvFile(COLUMNS.branches),
    products: new CsvFile(COLUMNS.products),
    transactions: new CsvFile(COLUMNS.transactions),
    transaction_items: new CsvFile(COLUMNS.transaction_items),
    rejects: new CsvFile(["line_number", "reason"]),
    warnings: new CsvFile(["line_number", "reason"]),
  };

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
