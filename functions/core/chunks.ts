// Cuts a byte stream into chunks of whole CSV records (at a line end outside quotes), each
// with the number of its first line, so chunks can be parsed independently and in parallel.
import { UnreadableFileError } from "./errors.js";

export interface Chunk {
  index: number;
  bytes: Buffer;
  /** Line number of the chunk's first line (1-based). */
  firstLine: number;
}

const NEWLINE = 10;
const QUOTE = 34;
const BINARY_CHECK_BYTES = 64 * 1024;
const STRAY_QUOTE_LIMIT = 4;

function countByte(buffer: Buffer, byte: number, from = 0, to = buffer.length): number {
  let n = 0;
  for (let at = buffer.indexOf(byte, from); at !== -1 && at < to; at = buffer.indexOf(byte, at + 1)) n++;
  return n;
}

/** End of the last complete record in `buffer`: after a newline with an even number of quotes before it. */
function lastRecordEnd(buffer: Buffer): number {
  let quotes = countByte(buffer, QUOTE);
  let end = buffer.length;
  for (;;) {
    const newline = buffer.lastIndexOf(NEWLINE, end - 1);
    if (newline === -1) return 0;
    quotes -= countByte(buffer, QUOTE, newline + 1, end);
    if (quotes % 2 === 0) return newline + 1;
    end = newline;
  }
}

export async function* chunksOf(input: AsyncIterable<Buffer | string>, chunkBytes: number): AsyncGenerator<Chunk> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let index = 0;
  let line = 1;
  let checked = 0;
  const emit = (bytes: Buffer): Chunk => {
    const chunk = { index: index++, bytes, firstLine: line };
    line += countByte(bytes, NEWLINE);
    return chunk;
  };
  for await (const piece of input) {
    const buffer = typeof piece === "string" ? Buffer.from(piece) : piece;
    if (checked < BINARY_CHECK_BYTES) {
      if (buffer.includes(0)) throw new UnreadableFileError("binary content (NUL bytes): not a CSV text file");
      checked += buffer.length;
    }
    pending.push(buffer);
    pendingBytes += buffer.length;
    if (pendingBytes < chunkBytes) continue;
    const joined = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    let end = lastRecordEnd(joined);
    // A stray quote (tolerated inside unquoted fields) upsets the parity: past a few chunks'
    // worth, cut at the last line end anyway rather than hold the file in memory.
    if (end === 0 && joined.length >= STRAY_QUOTE_LIMIT * chunkBytes) end = joined.lastIndexOf(NEWLINE) + 1;
    if (end === 0) {
      // One record longer than a chunk: keep reading until it ends.
      pending = [joined];
      continue;
    }
    yield emit(joined.subarray(0, end));
    const rest = joined.subarray(end);
    pending = rest.length ? [rest] : [];
    pendingBytes = rest.length;
  }
  if (pendingBytes > 0) yield emit(pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes));
}
