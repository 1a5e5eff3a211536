// The transform of one raw file: bytes in, six CSV streams out, memory flat whatever the size.
// What it does to each line is written in rules.ts (and what identifies a sale in
// sale-identity.ts); here are the file-level rules: a source key that fits its column, the
// encoding, a header-only file as a withdrawal, and when a whole file is unreadable. How the lines
// are run (chunks, columns, worker threads, the merge) is the engine's (engine/README.md).
import type { Readable } from "node:stream";
import { chunksOf } from "./engine/chunks.js";
import { TableFiles, type OutputName } from "./engine/csv-writer.js";
import { runChunks, type ChunksRun } from "./engine/run-chunks.js";
import { decodeToUtf8, ENCODING_NAMES, SAVE_AS_UTF8 } from "./encoding.js";
import { UnreadableFileError } from "./errors.js";
import type { TransformSummary } from "./manifest.js";
import { fitsBytes } from "./rules.js";
import { COLUMN_LIMITS } from "./schema.js";

export { workersFor } from "./engine/worker-pool.js";

export interface TransformOptions {
  /** The transaction-id key (the HMAC key of sale ids) (docs/design.md §4). */
  transactionIdKey: string | Buffer;
  /** Written to `transactions.source_key`. */
  sourceKey: string;
  /** Bytes per chunk (default 256 KiB). */
  chunkBytes?: number;
  /** Worker threads; 0 (the default) transforms in the calling thread. See `workersFor`. */
  workers?: number;
  /** Sales remembered to number identical ones (default `OCCURRENCE_WINDOW`, see `Occurrences`). */
  occurrenceWindow?: number | undefined;
  /** Branches the file may hold (an uploader's, core/branches.ts); rows of others are rejected. */
  branches?: readonly string[] | undefined;
}

export interface TransformRun {
  /** One stream per output file; the caller must consume all six. */
  outputs: Record<OutputName, Readable>;
  /** Settles when the input is read and every output has ended. */
  done: Promise<TransformSummary>;
}

const CHUNK_BYTES = 256 * 1024;

export function transform(input: Readable, options: TransformOptions): TransformRun {
  const files = new TableFiles();
  const f = files.files;
  const outputs: Record<OutputName, Readable> = {
    branches: f.branches.stream,
    products: f.products.stream,
    transactions: f.transactions.stream,
    transaction_items: f.transaction_items.stream,
    rejects: f.rejects.stream,
    warnings: f.warnings.stream,
  };
  const done = run(input, files, options).catch((error: Error) => {
    files.destroy(error);
    throw error;
  });
  return { outputs, done };
}

async function run(input: Readable, files: TableFiles, options: TransformOptions): Promise<TransformSummary> {
  // Every sale row holds the source key: one too long for its column would fail every load.
  if (!fitsBytes(options.sourceKey, COLUMN_LIMITS.source_key)) {
    throw new UnreadableFileError(`source key longer than ${COLUMN_LIMITS.source_key} bytes (transactions.source_key)`);
  }
  // Windows-1252 and UTF-16 exports are decoded to UTF-8 first (encoding.ts); the manifest says so.
  const decoded = decodeToUtf8(input);
  const chunks = chunksOf(decoded.bytes, options.chunkBytes ?? CHUNK_BYTES);
  let run: ChunksRun;
  try {
    run = await runChunks(chunks, files, { ...options, workers: options.workers ?? 0 });
  } catch (error) {
    throw asUnreadable(error);
  }
  const { merger, sawText } = run;

  const f = files.files;
  const { rejected, notText } = merger;
  const rowsRead = merger.salesRead + rejected;
  // A header and no rows is a version that withdraws the day: it loads with no sales (a withdrawal).
  // An empty file (nothing, or blank lines) stays a failure: an upload gone wrong must not wipe a day.
  const headerOnly = rowsRead === 0 && sawText;
  const encoding = decoded.encoding();
  if (f.transactions.rows === 0 && !headerOnly) {
    const reason = unreadableReason(rowsRead, rejected, notText, merger.firstRejects[0]);
    throw new UnreadableFileError(encoding === "utf-8" ? reason : `${reason} (read as ${ENCODING_NAMES[encoding]}; ${SAVE_AS_UTF8})`);
  }
  files.end();
  return {
    ...(encoding === "utf-8" ? {} : { encoding }),
    rowsRead,
    rows: {
      branches: f.branches.rows,
      products: f.products.rows,
      transactions: f.transactions.rows,
      transaction_items: f.transaction_items.rows,
    },
    rejected,
    warnings: merger.warnings,
    firstRejects: merger.firstRejects,
    firstWarnings: merger.firstWarnings,
  };
}

/** Why a file without one readable sale fails, decided on all its lines (not on one byte). */
function unreadableReason(rowsRead: number, rejected: number, notText: number, first: { line: number; reason: string } | undefined): string {
  if (rowsRead === 0) return "no data rows: the file is empty";
  if (notText * 2 > rejected) {
    return `binary content, not a text file: ${notText} of ${rejected} lines hold NUL bytes or invalid UTF-8 (a spreadsheet? ${SAVE_AS_UTF8.replace("save it", "save the sheet")})`;
  }
  return `no readable sales: all ${rejected} data rows were rejected (first: line ${first?.line}: ${first?.reason})`;
}

/** CSV syntax errors that csv-parse could not skip make the file unreadable; I/O errors stay as they are. */
function asUnreadable(error: unknown): unknown {
  const e = error as { code?: unknown; lines?: number };
  if (typeof e.code === "string" && e.code.startsWith("CSV_")) {
    return new UnreadableFileError(`not readable as CSV near line ${e.lines ?? "?"} (${e.code})`);
  }
  return error;
}
