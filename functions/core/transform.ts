// The transform of one raw file: bytes in, five CSV streams out, memory flat whatever the size.
// parse → clean → firstNormalForm → normalise → dedupe → write, applied batch by batch.
import type { Readable } from "node:stream";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parse as csvParse, type CsvError } from "csv-parse";
import { TableFiles, type OutputName } from "./csv-writer.js";
import { UnreadableFileError } from "./errors.js";
import { parse, type CsvRecord } from "./parse.js";
import type { Reject } from "./records.js";
import type { TableName } from "./schema.js";
import { clean, dedupe, firstNormalForm, normalise } from "./steps.js";

export interface TransformOptions {
  /** Key of the transaction-id HMAC (DESIGN section 3). */
  secret: string | Buffer;
  /** Written to `transactions.source_key`. */
  sourceKey: string;
  /** CSV records per batch; each batch runs through all steps before the next is read. */
  batchSize?: number;
}

export interface TransformSummary {
  rowsRead: number;
  rows: Record<TableName, number>;
  rejected: number;
  duplicatesInFile: number;
  warnings: number;
  warningLines: number[];
}

export interface TransformRun {
  /** One stream per output file; the caller must consume all five. */
  outputs: Record<OutputName, Readable>;
  /** Settles when the input is read and every output has ended. */
  done: Promise<TransformSummary>;
}

const MAX_WARNING_LINES = 100;

export function transform(input: Readable, options: TransformOptions): TransformRun {
  const files = new TableFiles(options.sourceKey);
  const f = files.files;
  const outputs: Record<OutputName, Readable> = {
    branches: f.branches.stream,
    products: f.products.stream,
    transactions: f.transactions.stream,
    transaction_items: f.transaction_items.stream,
    rejects: f.rejects.stream,
  };
  const done = run(input, files, options).catch((error: Error) => {
    files.destroy(error);
    throw error;
  });
  return { outputs, done };
}

async function run(input: Readable, files: TableFiles, options: TransformOptions): Promise<TransformSummary> {
  const parser = csvParse({
    bom: true,
    trim: true,
    skip_empty_lines: true,
    skip_records_with_empty_values: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_records_with_error: true,
    info: true,
  });
  const malformed: Reject[] = [];
  parser.on("skip", (error: CsvError & { lines?: number }) => {
    malformed.push({ kind: "reject", line: error.lines ?? 0, reason: `malformed CSV (${error.code})` });
  });
  const reading = pipeline(input, rejectBinary(), parser);
  reading.catch(() => {}); // surfaced through the batches below

  const steps = {
    parse: parse(),
    clean: clean(options.secret),
    normalise: normalise(),
    dedupe: dedupe(),
  };
  const counts = { sales: 0, warnings: 0 };
  const warningLines: number[] = [];
  function* countSales<T extends { kind: string }>(records: Iterable<T>): Generator<T> {
    for (const r of records) {
      if (r.kind === "sale") counts.sales++;
      yield r;
    }
  }

  for await (const batch of batches(parser, options.batchSize ?? 1000, reading)) {
    const rows = steps.dedupe(steps.normalise(firstNormalForm(steps.clean(countSales(steps.parse(batch))))));
    for (const row of rows) {
      if ("table" in row && row.table === "transactions" && row.itemsPence !== row.totalPence) {
        counts.warnings++;
        if (warningLines.length < MAX_WARNING_LINES) warningLines.push(row.line);
      }
      files.write(row);
    }
    for (const reject of malformed.splice(0)) files.write(reject);
    await files.drained();
  }
  await reading;
  for (const reject of malformed.splice(0)) files.write(reject);

  const f = files.files;
  const rejected = f.rejects.rows;
  const rowsRead = counts.sales + rejected;
  if (f.transactions.rows === 0) {
    throw new UnreadableFileError(
      rowsRead === 0 ? "no data rows: the file is empty" : `no readable sales: all ${rejected} data rows were rejected`,
    );
  }
  files.end();
  return {
    rowsRead,
    rows: {
      branches: f.branches.rows,
      products: f.products.rows,
      transactions: f.transactions.rows,
      transaction_items: f.transaction_items.rows,
    },
    rejected,
    duplicatesInFile: counts.sales - f.transactions.rows,
    warnings: counts.warnings,
    warningLines,
  };
}

/** Fails fast on binary input (NUL bytes), which no CSV variant contains. */
function rejectBinary(): Transform {
  let checked = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (checked < 65536) {
        checked += chunk.length;
        if (chunk.includes(0)) return callback(new UnreadableFileError("binary content (NUL bytes): not a CSV text file"));
      }
      callback(null, chunk);
    },
  });
}

/** Reads parsed records in arrays, so the steps run per batch rather than per awaited record. */
async function* batches(parser: Readable, size: number, reading: Promise<void>): AsyncGenerator<CsvRecord[]> {
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  parser.on("readable", () => wake?.());
  parser.on("end", () => {
    ended = true;
    wake?.();
  });
  reading.catch((error: unknown) => {
    failure = error;
    wake?.();
  });
  for (;;) {
    if (failure) throw asUnreadable(failure);
    const batch: CsvRecord[] = [];
    let record: CsvRecord | null;
    while (batch.length < size && (record = parser.read() as CsvRecord | null) !== null) batch.push(record);
    if (batch.length) {
      yield batch;
      continue;
    }
    if (ended) return;
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
}

/** CSV syntax errors that csv-parse could not skip make the file unreadable; I/O errors stay as they are. */
function asUnreadable(error: unknown): unknown {
  const e = error as { code?: unknown; message?: string; lines?: number };
  if (typeof e.code === "string" && e.code.startsWith("CSV_")) {
    return new UnreadableFileError(`not readable as CSV near line ${e.lines ?? "?"} (${e.code})`);
  }
  return error;
}
