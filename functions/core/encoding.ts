// The text encoding of a raw file. Tills and spreadsheets export UTF-8, but Excel on Windows saves
// "CSV" as Windows-1252 ("Café" as 43 61 66 E9) and "Unicode text" as UTF-16: read as UTF-8, every
// line with an accent (or every line, for UTF-16's NUL bytes) would be rejected and the file would
// fail as binary. The encoding is decided once from the file's start, the whole file is decoded to
// UTF-8 before it is cut into lines, and the manifest says which encoding was decoded, so the
// sender can be told to save UTF-8. Line numbers are unchanged (line ends decode to line ends).
import { isUtf8 } from "node:buffer";

export type SourceEncoding = "utf-8" | "windows-1252" | "utf-16le" | "utf-16be";

/** Bytes looked at before deciding (a branch's day file is ~50 KB: usually the whole file). */
export const SNIFF_BYTES = 64 * 1024;

/** Human names, for messages. */
export const ENCODING_NAMES: Record<SourceEncoding, string> = {
  "utf-8": "UTF-8",
  "windows-1252": "Windows-1252",
  "utf-16le": "UTF-16 (little-endian)",
  "utf-16be": "UTF-16 (big-endian)",
};

/** What the sender should do instead: one line, shown with the warning. */
export const SAVE_AS_UTF8 = 'save it as "CSV UTF-8 (Comma delimited)" in Excel, or re-export it as UTF-8';

/**
 * The encoding of a file that starts with `head` (`complete`: `head` is the whole file).
 * UTF-16 by its byte-order mark, or without one by ASCII text's every-other-byte NULs; Windows-1252
 * when the start is not valid UTF-8, holds no NUL, almost no control bytes (what binary data has)
 * and only high bytes that Windows-1252 text holds, more of them than well-formed UTF-8 characters.
 * Anything else is read as UTF-8, where bad lines are rejected one by one.
 */
export function detectEncoding(head: Buffer, complete: boolean): SourceEncoding {
  if (head[0] === 0xff && head[1] === 0xfe) return "utf-16le";
  if (head[0] === 0xfe && head[1] === 0xff) return "utf-16be";
  const sample = head.subarray(0, Math.min(head.length, 4096) & ~1);
  if (sample.length >= 8) {
    let evenNul = 0;
    let oddNul = 0;
    for (let i = 0; i < sample.length; i += 2) {
      if (sample[i] === 0) evenNul++;
      if (sample[i + 1] === 0) oddNul++;
    }
    const pairs = sample.length / 2;
    if (oddNul > pairs * 0.9 && evenNul === 0) return "utf-16le";
    if (evenNul > pairs * 0.9 && oddNul === 0) return "utf-16be";
  }
  if (head.includes(0)) return "utf-8";
  // A window that cuts a UTF-8 character in two is not itself invalid: drop a partial last character.
  let end = head.length;
  if (!complete) {
    let back = 0;
    while (back < 3 && end - back - 1 >= 0 && (head[end - back - 1]! & 0xc0) === 0x80) back++;
    if (end - back - 1 >= 0 && head[end - back - 1]! >= 0xc0) end = end - back - 1;
  }
  const text = head.subarray(0, end);
  if (isUtf8(text)) return "utf-8";
  const { valid, invalid } = utf8Sequences(text);
  let control = 0;
  let implausible = 0;
  for (const b of text) {
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) control++;
    else if (b >= 0x80 && !WINDOWS_1252_TEXT[b]) implausible++;
  }
  // UTF-8 accents with a damaged byte stay UTF-8 (the damaged line is rejected); so does a byte no
  // Windows-1252 text would hold, such as 0xFF (ÿ), the usual byte of damage and of binary data.
  return invalid > valid && implausible === 0 && control * 100 < text.length ? "windows-1252" : "utf-8";
}

/**
 * The bytes of 0x80-0xFF that Windows-1252 text holds: accented letters (0xC0-0xFE but × and ÷),
 * € £ ° © ® ™ ¿ ¡ ª º, the non-breaking space, typographic quotes, dashes and ellipsis, Š Œ Ž š œ ž Ÿ.
 */
const WINDOWS_1252_TEXT = (() => {
  const ok = new Uint8Array(256);
  for (let b = 0xc0; b <= 0xfe; b++) ok[b] = 1;
  ok[0xd7] = ok[0xf7] = 0;
  for (const b of [0x80, 0x85, 0x8a, 0x8c, 0x8e, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x99, 0x9a, 0x9c, 0x9e, 0x9f]) ok[b] = 1;
  for (const b of [0xa0, 0xa1, 0xa3, 0xa9, 0xaa, 0xae, 0xb0, 0xb4, 0xba, 0xbf]) ok[b] = 1;
  return ok;
})();

/** Well-formed non-ASCII UTF-8 sequences, and bytes that are not part of one. */
function utf8Sequences(bytes: Buffer): { valid: number; invalid: number } {
  let valid = 0;
  let invalid = 0;
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    const length = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    let ok = length > 0 && i + length <= bytes.length;
    for (let k = 1; ok && k < length; k++) ok = (bytes[i + k]! & 0xc0) === 0x80;
    if (ok) {
      valid++;
      i += length;
    } else {
      invalid++;
      i++;
    }
  }
  return { valid, invalid };
}

/**
 * The file as UTF-8 bytes, and (once known) the encoding it was in. `encoding()` is valid once the
 * first piece has been yielded or the input has ended.
 */
export function decodeToUtf8(input: AsyncIterable<Buffer | string>): { bytes: AsyncGenerator<Buffer>; encoding(): SourceEncoding } {
  let found: SourceEncoding = "utf-8";
  async function* bytes(): AsyncGenerator<Buffer> {
    const head: Buffer[] = [];
    let headBytes = 0;
    const iterator = input[Symbol.asyncIterator]();
    let done = false;
    while (headBytes < SNIFF_BYTES) {
      const next = await iterator.next();
      if (next.done) {
        done = true;
        break;
      }
      const piece = typeof next.value === "string" ? Buffer.from(next.value) : next.value;
      head.push(piece);
      headBytes += piece.length;
    }
    const start = Buffer.concat(head, headBytes);
    found = detectEncoding(start, done);
    if (found === "utf-8") {
      if (start.length) yield start;
      while (!done) {
        const next = await iterator.next();
        if (next.done) break;
        yield typeof next.value === "string" ? Buffer.from(next.value) : next.value;
      }
      return;
    }
    // TextDecoder drops a UTF-16 byte-order mark and keeps a character split across pieces whole.
    const decoder = new TextDecoder(found, { fatal: false });
    if (start.length) yield Buffer.from(decoder.decode(start, { stream: true }));
    while (!done) {
      const next = await iterator.next();
      if (next.done) break;
      const piece = typeof next.value === "string" ? Buffer.from(next.value) : next.value;
      const text = decoder.decode(piece, { stream: true });
      if (text) yield Buffer.from(text);
    }
    const rest = decoder.decode();
    if (rest) yield Buffer.from(rest);
  }
  return { bytes: bytes(), encoding: () => found };
}
