// Worker thread side of a parallel transform: transforms the chunks it is sent, in order of
// arrival, with its own step state; the parent merges the results in file order.
import { parentPort, workerData } from "node:worker_threads";
import { createChunkTransformer, type ChunkOptions } from "./chunk-transform.js";
import type { Variant } from "./parse.js";

interface ChunkMessage {
  index: number;
  firstLine: number;
  bytes: Uint8Array;
  variant: Variant | undefined;
}

const transformChunk = createChunkTransformer(workerData as ChunkOptions);
parentPort!.on("message", (message: ChunkMessage) => {
  try {
    const bytes = Buffer.from(message.bytes.buffer, message.bytes.byteOffset, message.bytes.byteLength);
    const result = transformChunk({ index: message.index, firstLine: message.firstLine, bytes }, message.variant);
    // The bulk of the output crosses in transferred buffers: no copy, and the parent thread
    // writes the bytes as they are.
    const transfer = [result.transactions.buffer, result.items.buffer, result.transactionIds.buffer, result.itemCounts.buffer];
    parentPort!.postMessage({ ok: true, result }, transfer as ArrayBuffer[]);
  } catch (error) {
    parentPort!.postMessage({ ok: false, index: message.index, error: (error as Error).message });
  }
});
