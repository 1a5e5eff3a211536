// Cuts a byte stream into chunks of whole lines, each with the number of its first line, so chunks
// can be parsed independently and in parallel. A line ends at LF, CRLF or a lone CR (docs/design.md
// §3); a chunk never ends between the CR and the LF of one line end. A line too long to be
// a sale is cut short (its start kept, enough to be rejected as over-long), so memory stays
// bounded whatever the input.
import { MAX_LINE_BYTES } from "../rules.js";

export interface Chunk {
  index: number;
  bytes: Buffer;
  /** Line number of the chunk's first line (1-based). */
  firstLine: number;
}

const LF = 10;
const CR = 13;

/** Line ends in `bytes` (LF, CRLF and lone CR each count once). */
export function countLineEnds(bytes: Buffer): number {
  let n = 0;
  for (let at = bytes.indexOf(LF); at !== -1; at = bytes.indexOf(LF, at + 1)) n++;
  for (let at = bytes.indexOf(CR); at !== -1; at = bytes.indexOf(CR, at + 1)) if (bytes[at + 1] !== LF) n++;
  return n;
}

/**
 * End of the last whole line in `buffer` (0: none). A CR as the very last byte may be the first
 * half of a CRLF whose LF has not arrived yet, so it does not end a line here.
 */
function lastLineEnd(buffer: Buffer): number {
  const lf = buffer.lastIndexOf(LF);
  const cr = buffer.length > 1 ? buffer.lastIndexOf(CR, buffer.length - 2) : -1;
  return Math.max(lf, cr) + 1;
}

/** Where the first line end in `buffer` starts (its LF or CR), or -1. */
function firstLineEndAt(buffer: Buffer): number {
  const lf = buffer.indexOf(LF);
  const cr = buffer.indexOf(CR);
  return lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
}

export async function* chunksOf(input: AsyncIterable<Buffer | string>, chunkBytes: number): AsyncGenerator<Chunk> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let index = 0;
  let line = 1;
  /** Inside an over-long line whose start is kept: its bytes are dropped up to its line end. */
  let skipping = false;
  const emit = (bytes: Buffer): Chunk => {
    const chunk = { index: index++, bytes, firstLine: line };
    line += countLineEnds(bytes);
    return chunk;
  };
  /** Keeps `tail` (a line without its end yet) as what is pending, cut short when over-long. */
  const keepTail = (tail: Buffer) => {
    if (tail.length <= MAX_LINE_BYTES + 1) {
      pending = tail.length ? [tail] : [];
      pendingBytes = tail.length;
      return;
    }
    // A last CR already ends the line (alone or with an LF still to come): keep it.
    const endsWithCr = tail[tail.length - 1] === CR;
    pending = endsWithCr ? [tail.subarray(0, MAX_LINE_BYTES + 1), tail.subarray(tail.length - 1)] : [tail.subarray(0, MAX_LINE_BYTES + 1)];
    pendingBytes = MAX_LINE_BYTES + 1 + (endsWithCr ? 1 : 0);
    skipping = !endsWithCr;
  };
  for await (const piece of input) {
    const whole = typeof piece === "string" ? Buffer.from(piece) : piece;
    // A large piece is taken a chunk's worth at a time (views, no copies).
    for (let from = 0; from < whole.length; from += chunkBytes) {
      let buffer = whole.subarray(from, from + chunkBytes);
      if (skipping) {
        const at = firstLineEndAt(buffer);
        if (at === -1) continue;
        skipping = false;
        buffer = buffer.subarray(at);
      }
      pending.push(buffer);
      pendingBytes += buffer.length;
      if (pendingBytes < chunkBytes) continue;
      const joined = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      const end = lastLineEnd(joined);
      if (end > 0) yield emit(joined.subarray(0, end));
      keepTail(joined.subarray(end));
    }
  }
  if (pendingBytes > 0) yield emit(pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes));
}
