// Worker thread side of a parallel transform: transforms the chunks it is sent, in order of
// arrival, with its own step state; the parent merges the results in file order.
import { parentPort, workerData } from "node:worker_threads";
import { createChunkTransformer, type Allocate } from "./chunk-transform.js";
import type { WorkerSetup } from "./worker-pool.js";

interface ChunkMessage {
  index: number;
  firstLine: number;
  bytes: Uint8Array;
}

const { options, slots, slotBytes } = workerData as WorkerSetup;
const slotCount = slots.byteLength / slotBytes;
/** Output goes to this chunk's slot of shared memory after its 8-byte header, 8-byte aligned. */
let slotStart = 0;
let slotUsed = 0;
const allocate: Allocate = (bytes) => {
  if (slotUsed + bytes > slotBytes) return new Uint8Array(bytes);
  const view = new Uint8Array(slots, slotStart + slotUsed, bytes);
  slotUsed += Math.ceil(bytes / 8) * 8;
  return view;
};
const transformChunk = createChunkTransformer(options, allocate);
let chunksSeen = 0;
parentPort!.on("message", (message: ChunkMessage) => {
  try {
    // This worker's chunks take the slots in turn (the parent computes the same slot).
    slotStart = (chunksSeen++ % slotCount) * slotBytes;
    slotUsed = 8;
    new Int32Array(slots, slotStart, 1)[0] = message.index;
    const bytes = Buffer.from(message.bytes.buffer, message.bytes.byteOffset, message.bytes.byteLength);
    const result = transformChunk({ index: message.index, firstLine: message.firstLine, bytes });
    // Output in the slot crosses as views of the shared memory; the parent copies it out.
    parentPort!.postMessage({ ok: true, result });
  } catch (error) {
    parentPort!.postMessage({ ok: false, index: message.index, error: (error as Error).message });
  }
});
