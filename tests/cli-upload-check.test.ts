// cli/upload-check.ts alone: which files an upload means (a folder is its own .csv files), and the
// local dry run of the transform on each: what the pipeline would make of it, with reasons and line
// numbers but never a line's content.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkFile, expandUploadPaths, printCheck } from "../cli/upload-check.js";
import { assertNoPii, fixture, tempDir } from "./helpers.js";

const dir = await tempDir("coffeetl-upload-check-");
const at = (p: string) => join(dir.path, p);
mkdirSync(at("tills/old"), { recursive: true });
for (const name of ["b.csv", "A.CSV", "notes.txt", "old/c.csv"]) writeFileSync(at(`tills/${name}`), "x\n");
mkdirSync(at("empty"));
writeFileSync(at("empty/readme.md"), "no data\n");

/** What printCheck writes on standard output. */
function printed(run: () => void): string {
  const out: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: unknown) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  try {
    run();
  } finally {
    process.stdout.write = write;
  }
  return out.join("");
}

test("a folder is its own .csv files, any case, sorted, not its subfolders; files are kept as given, missing ones too", async () => {
  assert.equal(await expandUploadPaths([at("tills"), at("x.csv"), at("missing.csv")]), [at("tills/A.CSV"), at("tills/b.csv"), at("x.csv"), at("missing.csv")]);
});

test("a folder with no .csv files is refused, naming it", async () => {
  try {
    await expandUploadPaths([at("empty")]);
    assert.unreachable("accepted");
  } catch (e) {
    assert.is((e as Error).message, `upload: ${at("empty")}: a folder with no .csv files`);
  }
});

test("checkFile refuses what the pipeline would never read, saying why", async () => {
  assert.equal(await checkFile(at("tills/notes.txt")), {
    path: at("tills/notes.txt"),
    ok: false,
    error: "not a .csv file (the pipeline reads .csv files only)",
  });
  assert.equal(await checkFile(at("nothing.csv")), { path: at("nothing.csv"), ok: false, error: "no such file" });
  mkdirSync(at("dir.csv"));
  assert.equal(await checkFile(at("dir.csv")), { path: at("dir.csv"), ok: false, error: "not a file" });
});

test("a good file: the rows and sales the pipeline would load", async () => {
  copyFileSync(fixture("canonical.csv"), at("leeds.csv"));
  const report = await checkFile(at("leeds.csv"));
  assert.ok(report.ok, report.error);
  assert.ok(report.summary!.rowsRead > 0);
  assert.is(report.summary!.rejected, 0);
  const out = printed(() => printCheck(report));
  assert.match(
    out,
    new RegExp(
      `^✔ ${at("leeds.csv").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: ${report.summary!.rowsRead} rows read, ${report.summary!.rows.transactions} sales, 0 rejected, `,
    ),
  );
});

test("a file the transform fails whole: ok false, the reason without the throwaway key's prefix", async () => {
  const report = await checkFile(fixture("not_csv.csv"));
  assert.is(report.ok, false);
  assert.ok(report.error && !report.error.startsWith("check/"), report.error);
  assert.match(
    printed(() => printCheck(report)),
    /^✘ .*not_csv\.csv: the pipeline would fail it: /,
  );
});

test("rejected lines are printed by number and reason, three at most, never their content", async () => {
  const report = await checkFile(fixture("broken_rows.csv"));
  assert.ok(report.ok);
  assert.ok(report.summary!.rejected > 3, `${report.summary!.rejected} rejected`);
  const out = printed(() => printCheck(report));
  assert.is(out.match(/^ {2}rejected line \d+: /gm)?.length, 3);
  assert.match(out, `(${report.summary!.rejected - 3} more rejected lines)`);
  assertNoPii(out, "the check's output");
});

test.after(() => dir.remove());
test.run();
