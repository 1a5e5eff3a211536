// functions/warehouse/line-notes.ts alone: which files' notes are kept, the CSV the load copies into
// line_notes (quoted reasons, checked line numbers), and its statements, which refuse a load id that
// is not 64 hex characters (the only value spliced into their SQL).
import { Readable } from "node:stream";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { LoadRequest, LineNotesFile } from "../functions/app/ports.js";
import { deleteLineNotesStatement, lineNotesCsv, selectLineNotesStatement, withLineNotes } from "../functions/warehouse/line-notes.js";

const ID_A = "a".repeat(64);
const ID_B = "0123456789abcdef".repeat(4);
const notes = (kind: LineNotesFile["kind"], csv: string, uri = `mem:${kind}.csv`): LineNotesFile => ({
  kind,
  uri,
  open: async () => Readable.from([Buffer.from(csv)]),
});
const request = (loadId: string, rejected: number, warnings: number, files?: LineNotesFile[]) =>
  ({ loadId, manifest: { rejected, warnings }, notes: files }) as unknown as LoadRequest;
const text = async (r: Readable) => {
  let out = "";
  for await (const chunk of r) out += chunk;
  return out;
};

test("withLineNotes keeps only files that have notes files and rejected or warned lines", () => {
  const kept = request(ID_A, 1, 0, [notes("rejected", "line_number,reason\n")]);
  const warned = request(ID_B, 0, 2, [notes("warning", "line_number,reason\n")]);
  const clean = request(ID_A, 0, 0, [notes("rejected", "line_number,reason\n")]);
  const noFiles = request(ID_B, 3, 0);
  assert.equal(withLineNotes([kept, clean, warned, noFiles]), [kept, warned]);
});

test("lineNotesCsv: one row per note, reasons quoted (commas, quotes, BOM), header only when asked", async () => {
  const reqs = [
    request(ID_A, 2, 1, [
      notes("rejected", '\uFEFFline_number,reason\n3,"bad total, ""12.x"""\n7,no items\n'),
      notes("warning", "line_number,reason\n5,card number removed\n"),
    ]),
    request(ID_B, 1, 0, [notes("rejected", "line_number,reason\n2,empty\n")]),
  ];
  assert.is(
    await text(lineNotesCsv(reqs, { header: true })),
    "load_id,line_number,kind,reason\n" +
      `${ID_A},3,rejected,"bad total, ""12.x"""\n${ID_A},7,rejected,"no items"\n${ID_A},5,warning,"card number removed"\n` +
      `${ID_B},2,rejected,"empty"\n`,
  );
  assert.not.match(await text(lineNotesCsv(reqs, { header: false })), /^load_id/);
});

test("lineNotesCsv refuses a line number that is not one, naming the file", async () => {
  for (const bad of ["0", "x", "1.5", "-2"]) {
    const r = request(ID_A, 1, 0, [notes("rejected", `line_number,reason\n${bad},why\n`, "s3://t/leeds/rejects.csv")]);
    try {
      await text(lineNotesCsv([r], { header: false }));
      assert.unreachable(`line_number ${bad} accepted`);
    } catch (e) {
      assert.match((e as Error).message, `s3://t/leeds/rejects.csv: line_number "${bad}" is not a line number`);
    }
  }
});

test("the statements name the batch's loads; any load id but 64 lowercase hex is refused", async () => {
  assert.is(deleteLineNotesStatement([request(ID_A, 1, 0), request(ID_B, 1, 0)]), `DELETE FROM line_notes WHERE load_id IN ('${ID_A}', '${ID_B}')`);
  assert.is(selectLineNotesStatement(ID_B), `SELECT line_number, kind, reason FROM line_notes WHERE load_id = '${ID_B}' ORDER BY line_number, kind`);
  for (const bad of ["A".repeat(64), "a".repeat(63), `${"a".repeat(64)}' OR '1'='1`, `${"a".repeat(62)}';`]) {
    assert.throws(() => selectLineNotesStatement(bad), /load id must be 64 lowercase hex/);
    assert.throws(() => deleteLineNotesStatement([request(bad, 1, 0)]), /load id must be 64 lowercase hex/);
    await text(lineNotesCsv([request(bad, 1, 0, [notes("rejected", "line_number,reason\n1,x\n")])], { header: false })).then(
      () => assert.unreachable("a bad id reached the CSV"),
      (e: Error) => assert.match(e.message, /load id must be 64 lowercase hex/),
    );
  }
});

test.run();
