// Runs a file's chunks through the chunk transformer, in this thread or in worker threads, and
// merges the results in file order into the output files (engine/README.md).
import { createChunkTransformer, type ChunkResult } from "./chunk-transform.js";
import type { Chunk } from "./chunks.js";
import { collectGarbage } from "./collect-garbage.js";
import type { TableFiles } from "./csv-writer.js";
import { ChunkMerger } from "./merge.js";
import { COLLECT_EVERY_BYTES, IN_FLIGHT_PER_WORKER, WorkerPool } from "./worker-pool.js";

export interface RunChunksOptions {
  transactionIdKey: string | Buffer;
  sourceKey: string;
  /** Worker threads; 0 transforms in the calling thread. */
  workers: number;
  occurrenceWindow?: number | undefined;
  branches?: readonly string[] | undefined;
}

/** What the run saw: the merged counts and notes, and whether any chunk held a non-blank byte. */
export interface ChunksRun {
  merger: ChunkMerger;
  sawText: boolean;
}

export async function runChunks(chunks: AsyncIterable<Chunk>, files: TableFiles, options: RunChunksOptions): Promise<ChunksRun> {
  const { workers } = options;
  const merger = new ChunkMerger(files, workers > 0, options);
  let sawText = false;
  const pool =
    workers > 0
      ? new WorkerPool(workers, {
          transactionIdKey: options.transactionIdKey,
          sourceKey: options.sourceKey,
          numberOccurrences: false,
          ...(options.branches ? { branches: options.branches } : {}),
        })
      : undefined;
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
  } finally {
    await pool?.close();
  }
  return { merger, sawText };
}
