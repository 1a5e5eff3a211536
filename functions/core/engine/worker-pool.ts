// The worker threads of a parallel transform (engine/README.md says when they run): a pool that
// sends chunk i to worker i mod n, each worker rendering into shared-memory result slots. Whether
// it pays, measured: engine/README.md (1.6x at 1M sales with a free core; no gain on a busy one).
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { ChunkOptions, ChunkResult } from "./chunk-transform.js";
import type { Chunk } from "./chunks.js";

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
export const COLLECT_EVERY_BYTES = 32 * 1024 * 1024;
/** Chunks each worker may have in flight (sent, not yet merged). */
export const IN_FLIGHT_PER_WORKER = 2;
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
export class WorkerPool {
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
