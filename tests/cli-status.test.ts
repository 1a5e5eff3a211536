// `coffeetl status`, `status --failed`, `rejects FILE` and `reprocess`, run as a user runs them, on one
// shared home holding the project's fixtures (two of them unreadable).
import { copyFileSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FIXTURES, fixture, runCoffeetlSync, tempDir } from "./helpers.js";

const run = (args: string[]) => {
  const result = runCoffeetlSync([...args, "--home", home]);
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
};
const json = <T = Record<string, unknown>[]>(args: string[], code = 0): T => {
  const r = run([...args, "--json"]);
  assert.is(r.code, code, r.stderr);
  return JSON.parse(r.stdout) as T;
};

const dir = await tempDir();
const home = join(dir.path, "home");
const ingest = runCoffeetlSync(["ingest", FIXTURES, "--home", home]);
if (ingest.status !== 1) throw new Error(`fixture ingest: exit ${ingest.status}\n${ingest.stdout}${ingest.stderr}`);

// The load records every outcome in `file_outcomes`, transform failures included: status reads them.
const failures = json<{ n: number }[]>(["sql", "SELECT COUNT(*) AS n FROM file_outcomes WHERE outcome = 'failed'"])[0]!.n;
if (failures !== 2) throw new Error(`fixture ingest recorded ${failures} failed outcomes, expected 2`);

test("status lists each file's latest outcome and counts; --failed only the failures, with reasons", () => {
  const status = run(["status"]);
  assert.is(status.code, 0, status.stderr);
  assert.match(status.stdout, /^8 files: 6 loaded, 2 failed \(latest outcome of each file\)/);
  assert.match(status.stdout, /\| loaded +\| 8 +\| 3 +\| 0 +\| 5 +\| 1 +\| .*broken_rows\.csv/);
  assert.match(status.stdout, /\| failed +\| .*not_csv\.csv +\| binary content/);
  const failed = run(["status", "--failed"]);
  assert.is(failed.code, 1, "failures present: exit 1, for scripts");
  assert.match(failed.stdout, /transform \| .*not_csv\.csv +\| binary content/);
  assert.match(failed.stdout, /transform \| .*prose\.csv +\| \S/, "a reason is given");
  assert.not.match(failed.stdout, /canonical\.csv/);
  assert.match(failed.stdout, /\(2 rows\)[\s\S]*coffeetl reprocess/);
  const rows = json<{ source_key: string; outcome: string; reason: string | null }[]>(["status", "--failed"], 1);
  assert.equal(rows.map((r) => [r.source_key.split("/").pop(), r.outcome]).sort(), [
    ["not_csv.csv", "failed"],
    ["prose.csv", "failed"],
  ]);
  assert.is(json(["status", "--limit", "3"]).length, 3);
  assert.is(json(["status", "--since", "2999-01-01"]).length, 0);
});

test("rejects FILE prints a file's rejected lines and warnings with line numbers and reasons", () => {
  const r = run(["rejects", "broken_rows.csv"]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /broken_rows\.csv: 8 rows read, 5 rejected, 1 warning \(loaded/);
  assert.match(r.stdout, /^2 +\| rejected \| expected 7 columns, found 6$/m);
  assert.match(r.stdout, /^5 +\| rejected \| unknown payment method/m);
  assert.match(r.stdout, /^8 +\| warning +\| total differs from the sum of its item prices/m);
  const lines = json<{ lines: { line: number; kind: string }[] }>(["rejects", fixture("broken_rows.csv")]).lines;
  assert.equal(
    lines.map((l) => `${l.line}:${l.kind}`),
    ["2:rejected", "3:rejected", "4:rejected", "5:rejected", "6:rejected", "8:warning"],
  );
  assert.match(run(["rejects", "canonical.csv"]).stdout, /5 rows read, 0 rejected, 0 warnings[\s\S]*Every line was read/);
  const failed = run(["rejects", "not_csv.csv"]);
  assert.is(failed.code, 0);
  assert.match(failed.stdout, /not_csv\.csv: failed at transform: binary content/);
  const unknown = run(["rejects", "nope.csv"]);
  assert.is(unknown.code, 1);
  assert.match(unknown.stderr, /no file "nope\.csv" in the warehouse/);
});

test("reprocess runs the home's raw files again: idempotent, raw files untouched, --since and PREFIX select", () => {
  const rawFiles = () =>
    readdirSync(join(home, "raw"), { recursive: true, encoding: "utf8" })
      .map((f) => join(home, "raw", f))
      .filter((f) => statSync(f).isFile())
      .map((f) => `${f}:${statSync(f).mtimeMs}`)
      .sort();
  const before = rawFiles();
  const figures = () =>
    json([
      "sql",
      "SELECT (SELECT COUNT(*) FROM transactions) AS sales, (SELECT COUNT(*) FROM transaction_items) AS items, (SELECT COUNT(*) FROM loads) AS loads",
    ]);
  const counts = figures();
  for (let round = 0; round < 2; round++) {
    const r = run(["reprocess"]);
    assert.is(r.code, 1, "the two unreadable files fail again");
    assert.match(r.stdout, /^Reprocessing 8 raw files\./);
    assert.match(r.stdout, /✔ .*canonical\.csv: 5 rows read, 0 sales new, 5 duplicates/);
    assert.match(r.stdout, /✘ .*not_csv\.csv: failed: binary content/);
    assert.match(r.stdout, /8 files: 6 processed, 2 failed; 0 new sales/);
  }
  assert.equal(figures(), counts, "nothing changed");
  assert.equal(rawFiles(), before, "raw files are never rewritten");

  const one = run(["reprocess", fixture("canonical.csv")]);
  assert.is(one.code, 0, one.stderr);
  assert.match(one.stdout, /^Reprocessing 1 raw file under .*canonical\.csv/);
  assert.match(run(["reprocess", FIXTURES]).stdout, /Reprocessing 8 raw files/);
  const none = run(["reprocess", "--since", "2999-01-01"]);
  assert.is(none.code, 1);
  assert.match(none.stderr, /no raw \.csv files stored since 2999-01-01/);
  assert.match(run(["reprocess", "--since", "2000-01-01", fixture("padded.csv")]).stdout, /1 file: 1 processed/);
});

test("rejects FILE: a name two files end with is refused, listing both keys", () => {
  mkdirSync(join(dir.path, "copy"));
  copyFileSync(fixture("broken_rows.csv"), join(dir.path, "copy", "broken_rows.csv"));
  assert.is(runCoffeetlSync(["ingest", join(dir.path, "copy"), "--home", home]).status, 0);
  const ambiguous = run(["rejects", "broken_rows.csv"]);
  assert.is(ambiguous.code, 1);
  // Both keys are listed, one a line; their order depends on where the project and the temp folder are.
  assert.match(ambiguous.stderr, /2 files match "broken_rows\.csv"; give more of the key:\n/);
  assert.match(ambiguous.stderr, /\n .*copy\/broken_rows\.csv(\n|$)/);
  assert.match(ambiguous.stderr, /\n .*fixtures\/raw\/broken_rows\.csv(\n|$)/);
  assert.match(run(["rejects", "copy/broken_rows.csv"]).stdout, /5 rejected, 1 warning/);
});

test.after(() => dir.remove());
test.run();
