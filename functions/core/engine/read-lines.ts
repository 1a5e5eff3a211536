// Physical lines → csv-parse records, exactly one per line (docs/design.md §3: real files hold no
// quoted line break, so damage to one line never reaches another). A line ends at CRLF, LF or a
// lone CR, mixed freely. Most chunks are clean and go to csv-parse in one call; a chunk that is not
// (a quote left open, a NUL byte, invalid UTF-8, an over-long line) is halved until each bad line
// stands alone and is rejected with its reason, while its clean neighbours are still parsed in bulk.
import { isUtf8 } from "node:buffer";
import { parse as parseCsv } from "csv-parse/sync";
import { MAX_LINE_BYTES, type Reject } from "../rules.js";
import type { Chunk } from "./chunks.js";
import type { CsvRecords } from "./records.js";

const LF = 10;
const CR = 13;
const CSV_OPTIONS = { trim: true, relax_column_count: true, relax_quotes: true, skip_records_with_error: true } as const;
const ANY_LINE_END = ["\r\n", "\n", "\r"];
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Why csv-parse could not read a line, in words. */
const CSV_PROBLEMS: Record<string, string> = {
  CSV_QUOTE_NOT_CLOSED: "a quote opens a field and is never closed",
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: "text after a closing quote",
  CSV_INVALID_CLOSING_QUOTE: "text after a closing quote",
};

interface Parsed {
  rows: string[][];
  /** Error code of the first record csv-parse had to skip. */
  skipped?: string;
}

function csv(bytes: Buffer, lineEnd: string | string[]): Parsed {
  let skipped: string | undefined;
  const rows = parseCsv(bytes, {
    ...CSV_OPTIONS,
    record_delimiter: lineEnd,
    on_skip: (error) => {
      skipped ??= (error as unknown as { code: string }).code;
    },
  }) as string[][];
  return skipped === undefined ? { rows } : { rows, skipped };
}

/**
 * Lines in `bytes`, their line end when all are of one kind (else undefined: mixed), and the
 * longest line's bytes (before its end).
 */
function lineShape(bytes: Buffer): { lines: number; lineEnd: string | undefined; longest: number } {
  const firstCr = bytes.indexOf(CR);
  // Lone CRs only (an old Mac export): gaps between CRs; else gaps between LFs.
  const end = firstCr !== -1 && bytes.indexOf(LF) === -1 ? CR : LF;
  let ends = 0;
  let longest = 0;
  let start = 0;
  for (let at = bytes.indexOf(end); at !== -1; at = bytes.indexOf(end, at + 1)) {
    if (at - start > longest) longest = at - start;
    start = at + 1;
    ends++;
  }
  if (bytes.length - start > longest) longest = bytes.length - start;
  const lines = ends + (start < bytes.length ? 1 : 0);
  if (firstCr === -1) return { lines, lineEnd: "\n", longest };
  if (end === CR) return { lines, lineEnd: "\r", longest };
  // CRLF throughout, or a mix (read line by line below).
  let crs = 0;
  for (let at = firstCr; at !== -1; at = bytes.indexOf(CR, at + 1)) {
    if (bytes[at + 1] !== LF) return { lines, lineEnd: undefined, longest };
    crs++;
  }
  return { lines, lineEnd: crs === ends ? "\r\n" : undefined, longest };
}

/** Start of each line in `bytes`, and the end of the last one. */
function lineStarts(bytes: Buffer): Int32Array {
  const starts: number[] = [0];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === LF || (b === CR && bytes[i + 1] !== LF)) starts.push(i + 1);
  }
  if (starts[starts.length - 1] !== bytes.length) starts.push(bytes.length);
  return Int32Array.from(starts);
}

/** Bytes of a line without its line end. */
function contentLength(bytes: Buffer, from: number, to: number): number {
  let end = to;
  if (end > from && bytes[end - 1] === LF) end--;
  if (end > from && bytes[end - 1] === CR) end--;
  return end - from;
}

/** Why one line cannot be read, or its record. */
function readLine(bytes: Buffer): { fields: string[] } | { reason: string; notText: boolean } {
  // Length first: an over-long line is kept cut short (chunks.ts), maybe inside a character.
  if (contentLength(bytes, 0, bytes.length) > MAX_LINE_BYTES) return { reason: `line longer than ${MAX_LINE_BYTES} bytes`, notText: false };
  if (bytes.indexOf(0) !== -1) return { reason: "NUL byte in the line (binary data, not text)", notText: true };
  if (!isUtf8(bytes)) return { reason: "not valid UTF-8 text (save the file as UTF-8)", notText: true };
  const { rows, skipped } = csv(bytes, ANY_LINE_END);
  if (skipped !== undefined) return { reason: `malformed CSV: ${CSV_PROBLEMS[skipped] ?? skipped}`, notText: false };
  return { fields: rows[0] ?? [""] };
}

/**
 * csv-parse over one chunk, one record per physical line, with each record's line number. Blank
 * lines (also `,,,,,,` re-saves) are left out; lines that cannot be read become rejects.
 */
export function readRecords(chunk: Chunk): CsvRecords {
  const bytes = chunk.index === 0 && chunk.bytes.subarray(0, 3).equals(BOM) ? chunk.bytes.subarray(3) : chunk.bytes;
  let rows: string[][] = [];
  let line: Int32Array;
  const rejects: Reject[] = [];
  let notText = 0;

  // The usual case: clean text, one kind of line end, every line one record.
  const shape = lineShape(bytes);
  const clean = shape.lineEnd !== undefined && shape.longest <= MAX_LINE_BYTES && bytes.indexOf(0) === -1 && isUtf8(bytes);
  const bulk = clean ? csv(bytes, shape.lineEnd!) : undefined;
  if (bulk && bulk.skipped === undefined && bulk.rows.length === shape.lines) {
    rows = bulk.rows;
    line = new Int32Array(rows.length);
    for (let i = 0; i < rows.length; i++) line[i] = chunk.firstLine + i;
  } else {
    const starts = lineStarts(bytes);
    const lines: number[] = [];
    // Lines a..b-1 in one csv-parse call when they are clean; halves of them otherwise.
    const readRange = (a: number, b: number): void => {
      const slice = bytes.subarray(starts[a]!, starts[b]!);
      if (b - a === 1) {
        const read = readLine(slice);
        if ("fields" in read) {
          rows.push(read.fields);
          lines.push(chunk.firstLine + a);
        } else {
          rejects.push({ line: chunk.firstLine + a, reason: read.reason });
          if (read.notText) notText++;
        }
        return;
      }
      let fits = slice.indexOf(0) === -1 && isUtf8(slice);
      for (let i = a; fits && i < b; i++) fits = contentLength(bytes, starts[i]!, starts[i + 1]!) <= MAX_LINE_BYTES;
      const parsed = fits ? csv(slice, ANY_LINE_END) : undefined;
      if (parsed && parsed.skipped === undefined && parsed.rows.length === b - a) {
        for (let i = 0; i < parsed.rows.length; i++) {
          rows.push(parsed.rows[i]!);
          lines.push(chunk.firstLine + a + i);
        }
        return;
      }
      const mid = (a + b) >>> 1;
      readRange(a, mid);
      readRange(mid, b);
    };
    if (starts.length > 1) readRange(0, starts.length - 1);
    line = Int32Array.from(lines);
  }

  // Blank lines (also `,,,,,,` re-saves) are no records at all.
  let kept = 0;
  for (let i = 0; i < rows.length; i++) {
    const fields = rows[i]!;
    if (fields[0] === "" && fields.every((field) => field === "")) continue;
    rows[kept] = fields;
    line[kept++] = line[i]!;
  }
  rows.length = kept;
  return { fields: rows, line: line.subarray(0, kept), rejects, notText };
}
