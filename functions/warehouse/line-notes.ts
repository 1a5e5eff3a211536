// A loaded file's rejected lines and warnings into the warehouse's `line_notes` (core/schema.ts),
// so `coffeetl rejects` answers "why did line 212 of the 3 March file fail" for as long as the
// file's load history is kept, not only while its transformed files last (30 days on AWS).
//
// The notes are written under a lock as a delete of the batch's loads' notes and one COPY of them
// all, so writing them again (a redelivered manifest, a retried batch) changes nothing. On Redshift
// this is a transaction of its own right after the load's (3 statements, outside the load's
// statement budget). On PostgreSQL it is part of the load's transaction.
// Files without rejects or warnings (most) cost nothing.
import { Readable } from "node:stream";
import { parse } from "csv-parse";
import type { LoadRequest } from "../app/ports.js";
import { LINE_NOTES_COLUMNS } from "../core/schema.js";

export const LINE_NOTES_TABLE = "line_notes";

/** The requests of a batch whose files have rejected lines or warnings to keep. */
export const withLineNotes = (requests: LoadRequest[]): LoadRequest[] =>
  requests.filter((r) => (r.notes?.length ?? 0) > 0 && r.manifest.rejected + r.manifest.warnings > 0);

const quote = (text: string) => `"${text.replace(/"/g, '""')}"`;
const hexId = (id: string) => {
  if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`load id must be 64 lowercase hex, got ${JSON.stringify(id)}`);
  return id;
};

/**
 * The notes of `requests` as one CSV (`load_id,line_number,kind,reason`; with a header line when
 * `header`), read from each file's rejects.csv and warnings.csv (`line_number,reason`).
 */
export function lineNotesCsv(requests: LoadRequest[], options: { header: boolean }): Readable {
  return Readable.from(
    (async function* () {
      if (options.header) yield Buffer.from(LINE_NOTES_COLUMNS.join(",") + "\n");
      for (const request of requests) {
        const id = hexId(request.loadId);
        for (const file of request.notes ?? []) {
          const records = (await file.open()).pipe(parse({ columns: true, skip_empty_lines: true, bom: true }));
          let lines: string[] = [];
          for await (const record of records as AsyncIterable<Record<string, string>>) {
            const line = Number(record.line_number);
            if (!Number.isSafeInteger(line) || line < 1) throw new Error(`${file.uri}: line_number ${JSON.stringify(record.line_number)} is not a line number`);
            lines.push(`${id},${line},${file.kind},${quote(record.reason ?? "")}\n`);
            if (lines.length >= 1000) {
              yield Buffer.from(lines.join(""));
              lines = [];
            }
          }
          if (lines.length) yield Buffer.from(lines.join(""));
        }
      }
    })(),
    { objectMode: false },
  );
}

/** Removes the notes of the batch's loads, before their COPY (the load ids are checked hex). */
export function deleteLineNotesStatement(requests: LoadRequest[]): string {
  return `DELETE FROM ${LINE_NOTES_TABLE} WHERE load_id IN (${requests.map((r) => `'${hexId(r.loadId)}'`).join(", ")})`;
}

/** A file's notes as `coffeetl rejects` reads them, in line order. */
export function selectLineNotesStatement(loadId: string): string {
  return `SELECT line_number, kind, reason FROM ${LINE_NOTES_TABLE} WHERE load_id = '${hexId(loadId)}' ORDER BY line_number, kind`;
}
