// `coffeetl forget FILE` (issue 22 item 7): a dry run first; with --yes the file's sales and items go
// (those another file also holds stay), its load is marked superseded by the withdrawal, `status`
// says withdrawn, and a later ingest of the file loads it again. Through the built CLI.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { dayFile } from "./day-file.js";
import { runCoffeetlSync, tempDir } from "./helpers.js";

const dir = await tempDir();
const home = join(dir.path, "home");
const run = (...args: string[]) => {
  const r = runCoffeetlSync([...args, "--home", home], { cwd: dir.path });
  return { status: r.status, out: r.stdout + r.stderr };
};
const sql = (query: string): Record<string, unknown>[] => {
  const r = run("sql", query, "--json");
  assert.is(r.status, 0, r.out);
  return JSON.parse(r.out) as Record<string, unknown>[];
};
const FIGURES = `SELECT (SELECT COUNT(*) FROM transactions) AS sales, (SELECT COUNT(*) FROM transaction_items) AS items,
  (SELECT COUNT(*) FROM transaction_items i WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.transaction_id = i.transaction_id)) AS orphan_items,
  (SELECT COUNT(*) FROM loads WHERE superseded_by IS NULL) AS current_loads`;
test.after(() => dir.remove());

test("forget: dry run, then withdraw keeping shared sales; status says withdrawn; a re-ingest loads again", () => {
  const wrong = join(dir.path, "wrong-branch.csv");
  const other = join(dir.path, "other.csv");
  writeFileSync(wrong, dayFile(30));
  // The other file holds the same first 5 sales (the same lines of the same day): they must stay.
  writeFileSync(other, dayFile(30).split("\n").slice(0, 5).join("\n") + "\n" + dayFile(10, "York"));
  const ingest = run("ingest", wrong, other);
  assert.is(ingest.status, 0, ingest.out);
  const before = sql(FIGURES)[0]!;
  assert.equal([Number(before.sales), Number(before.current_loads)], [40, 2]);

  const dry = run("forget", "wrong-branch.csv");
  assert.is(dry.status, 0, dry.out);
  assert.match(dry.out, /Would withdraw .*wrong-branch\.csv .*25 sales and their items; 5 sales another file also holds stay/);
  assert.match(dry.out, /Nothing changed/);
  assert.equal(sql(FIGURES)[0], before, "the dry run changed nothing");

  const done = run("forget", "wrong-branch.csv", "--yes");
  assert.is(done.status, 0, done.out);
  assert.match(done.out, /Withdrew /);
  const after = sql(FIGURES)[0]!;
  assert.equal([Number(after.sales), Number(after.orphan_items), Number(after.current_loads)], [15, 0, 2], "other.csv's 15 sales stay");
  const keys = sql(`SELECT DISTINCT source_key FROM transactions`).map((r) => String(r.source_key));
  assert.ok(
    keys.every((k) => k.endsWith("other.csv")),
    keys.join(", "),
  );
  const status = run("status");
  assert.match(status.out, /withdrawn.*wrong-branch\.csv/);
  assert.match(run("status", "--json").out, /"outcome": "withdrawn"/);

  const again = run("forget", "wrong-branch.csv", "--yes");
  assert.is(again.status, 1);
  assert.match(again.out, /already withdrawn/);

  // The file uploaded again loads again.
  const reingest = run("ingest", wrong);
  assert.is(reingest.status, 0, reingest.out);
  assert.match(reingest.out, /25 sales new/);
  assert.equal(Number(sql(FIGURES)[0]!.sales), 40);
});

test.run();
