// The transform of one raw file: bytes in, six CSV streams out, memory flat whatever the size.
// The file is cut into chunks of whole lines; each chunk runs parse → clean → numberOccurrences
// → firstNormalForm → normalise → dedupe (chunk-transform.ts), in this thread or in worker
// threads, and the chunks are merged in file order (merge.ts), keeping each branch and product
// once and numbering identical sales across chunks transformed apart.
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { extname } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { createChunkTransformer, type ChunkOptions, type ChunkResult } from "./chunk-transform.js";
import { chunksOf, type Chunk } from "./chunks.js";
import { collectGarbage } from "./collect-garbage.js";
import { decodeToUtf8, ENCODING_NAMES, SAVE_AS_UTF8 } from "./encoding.js";
import { TableFiles, type OutputName } from "./csv-writer.js";
import { UnreadableFileError } from "./errors.js";
import type { TransformSummary } from "./manifest.js";
import { ChunkMerger } from "./merge.js";
import { fitsBytes } from "./parse.js";
import { COLUMN_LIMITS } from "./schema.js";

export interface TransformOptions {
  /** Key of the transaction-id HMAC (docs/design.md §4). */
  secret: string | Buffer;
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
/** Room for a chunk's short-lived objects, so they die young instead of being promoted. */
const YOUNG_GENERATION_MB = 16;
/**
 * Below this size threads cost more (start-up, each thread compiling its own hot code) than they
 * save: measured on two cores, two workers were slower than one thread at 15 MB, even at 20 MB
 * and 20-30% faster from 30 MB.
 */
const PARALLEL_MIN_BYTES = 24 * 1024 * 1024;
/**
 * The copies of worker results written to the outputs are freed only when this thread collects,
 * and with the work in the workers it allocates too little to collect on its own: measured,
 * results stayed for 30-90 chunks, 20-30 MB of RSS at 1M sales. A full collection (~11 ms) every
 * 32 MB of results bounds that: 175-181 MB in all with 2 workers, against 197-205 MB without;
 * every 16 MB gave no less.
 */
const COLLECT_EVERY_BYTES = 32 * 1024 * 1024;
/** Chunks each worker may have in flight (sent, not yet merged). */
const IN_FLIGHT_PER_WORKER = 2;
/**
 * Each worker renders a chunk's output into one slot of shared memory that it reuses, instead of
 * fresh buffers that cross to the main thread and wait there for its collector (measured at 3M
 * sales: peak RSS 181 MB instead of 197-201, and 6-7% faster). A slot is reused three chunks
 * later, when the main thread has merged (copied) what was in it: with at most
 * IN_FLIGHT_PER_WORKER chunks in flight, one more slot than that suffices.
 */
const RESULT_SLOTS = IN_FLIGHT_PER_WORKER + 1;
/** Room per slot; a chunk whose output does not fit gets ordinary buffers. */
const RESULT_SLOT_BYTES = 1024 * 1024;

/** Worker threads worth using for a file of this size on this machine (0: none). */
export function workersFor(sizeBytes: number): number {
  const cores = availableParallelism();
  return sizeBytes >= PARALLEL_MIN_BYTES && cores > 1 && workerScript() ? Math.min(cores, 4) : 0;
}

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
  const workers = options.workers ?? 0;
  const merger = new ChunkMerger(files, workers > 0, options);
  /** Any non-blank byte: with no row read and none rejected, the file held its header row alone. */
  let sawText = false;
  const pool =
    workers > 0 ? new WorkerPool(workers, { secret: options.secret, sourceKey: options.sourceKey, numberOccurrences: false, ...(options.branches ? { branches: options.branches } : {}) }) : undefined;
  const transformHere = pool ? undefined : createChunkTransformer(options);
  try {
    // Results are merged in chunk order; a few chunks may be in flight at once.
    const inFlight: Array<Promise<ChunkResult>> = [];
    let resultBytes = 0;
    const mergeNext = async () => {
      const result = await inFlight.shift()!;
      merger.add(result);
      if (pool) {
        pool.merged(result.index);
        resultBytes += result.transactions.byteLength + result.items.byteLength;
        if (resultBytes >= COLLECT_EVERY_BYTES) {
          collectGarbage();
          resultBytes = 0;
        }
      }
      await files.drained();
    };
    for await (const chunk of chunks) {
      if (!sawText && /\S/.test(chunk.bytes.toString("latin1"))) sawText = true;
      const result = pool ? pool.transform(chunk) : Promise.resolve().then(() => transformHere!(chunk));
      result.catch(() => {}); // awaited in order below
      inFlight.push(result);
      while (inFlight.length > (pool ? IN_FLIGHT_PER_WORKER * workers : 0)) await mergeNext();
    }
    while (inFlight.length) await mergeNext();
  } catch (error) {
    throw asUnreadable(error);
  } finally {
    await pool?.close();
  }

  const f = files.files;
  const { rejected, notText } = merger;
  const rowsRead = merger.salesRead + rejected;
  // A header and no rows is a version that withdraws the day: it loads with no sales (retraction).
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

/** The worker entry beside this module (.ts under tsx, .js when compiled); absent when bundled. */
function workerScript(): URL | undefined {
  const url = new URL(`./transform-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
  return existsSync(url) ? url : undefined;
}

interface WorkerReply {
  ok: boolean;
  result?: ChunkResult;
  index?: number;
  error?: string;
}

/** What a transform worker is started with. */
export interface WorkerSetup {
  options: ChunkOptions;
  /** RESULT_SLOTS slots of `slotBytes`; each starts with the index of the chunk written there. */
  slots: SharedArrayBuffer;
  slotBytes: number;
}

/** Worker threads that transform chunks; chunk i always goes to worker i mod n. */
class WorkerPool {
  private readonly workers: Worker[];
  private readonly slots: SharedArrayBuffer[] = [];
  private readonly waiting = new Map<number, { resolve(result: ChunkResult): void; reject(error: Error): void }>();

  constructor(size: number, options: ChunkOptions) {
    const script = workerScript();
    if (!script) throw new Error("transform worker script not found beside transform module");
    // A TypeScript worker (running from source) needs tsx's loader registered inside the thread.
    const source = script.pathname.endsWith(".ts")
      ? `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => tsx.register()).then(() => import(${JSON.stringify(script.href)}))`
      : `import(${JSON.stringify(script.href)})`;
    this.workers = Array.from({ length: size }, () => {
      const setup: WorkerSetup = { options, slots: new SharedArrayBuffer(RESULT_SLOTS * RESULT_SLOT_BYTES), slotBytes: RESULT_SLOT_BYTES };
      this.slots.push(setup.slots);
      const worker = new Worker(source, { eval: true, workerData: setup, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
      worker.on("message", (reply: WorkerReply) => {
        const index = reply.result?.index ?? reply.index!;
        const waiter = this.waiting.get(index);
        this.waiting.delete(index);
        if (reply.ok) waiter?.resolve(reply.result!);
        else waiter?.reject(new Error(reply.error));
      });
      worker.on("error", (error) => this.failAll(error));
      return worker;
    });
  }

  transform(chunk: Chunk): Promise<ChunkResult> {
    return new Promise((resolve, reject) => {
      this.waiting.set(chunk.index, { resolve, reject });
      // A copy: the chunk may share memory with the next one, which must not be detached.
      const bytes = new Uint8Array(chunk.bytes);
      this.workers[chunk.index % this.workers.length]!.postMessage({ index: chunk.index, firstLine: chunk.firstLine, bytes }, [bytes.buffer]);
    });
  }

  /**
   * Called once chunk `index` is merged, its bytes copied out of shared memory: fails loudly if
   * its slot was reused too early (which the in-flight bound rules out).
   */
  merged(index: number): void {
    const n = this.workers.length;
    const slot = Math.floor(index / n) % RESULT_SLOTS;
    const holds = new Int32Array(this.slots[index % n]!, slot * RESULT_SLOT_BYTES, 1)[0];
    if (holds !== index) throw new Error(`result slot of chunk ${index} was reused by chunk ${holds} before the merge`);
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
