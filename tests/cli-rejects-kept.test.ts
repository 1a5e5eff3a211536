// `coffeetl rejects` on a local home reads a file's lines from the warehouse (`line_notes`, written
// with the load), so it answers after the transformed files are gone, and lists every warning.
import { readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fixture, runCoffeetlSync, tempDir } from "./helpers.js";

/**
 * A day file of the fixture's five rejected lines and one warning plus 119 more totals that differ
 * from their items (120 warnings), ingested into a new home; `run` runs the CLI on that home.
 */
function ingestedDay(dir: string, fileName: string, hour: string, firstTotal: number) {
  const home = join(dir, "home");
  const base = readFileSync(fixture("broken_rows.csv"), "utf8").trimEnd().split("\n");
  const extra = Array.from(
    { length: 119 },
    (_, i) => `02/03/2024 ${hour}:${String(i % 60).padStart(2, "0")},Kendal,Guest,Regular Latte - 2.15,${(firstTotal + i / 100).toFixed(2)},CASH,`,
  );
  const file = join(dir, fileName);
  writeFileSync(file, [...base, ...extra].join("\n") + "\n");
  const run = (...args: string[]) => runCoffeetlSync([...args, "--home", home]);
  const ingest = run("ingest", file);
  assert.is(ingest.status, 0, ingest.stdout + ingest.stderr);
  return { home, run, ingest };
}

test("rejects after the home's transformed files are deleted: every rejected line and all 120 warnings, from the warehouse", async () => {
  const dir = await tempDir();
  try {
    const { home, run, ingest } = ingestedDay(dir.path, "kendal_2024-03-02.csv", "11", 3);
    assert.match(ingest.stdout, /5 rejected, 120 warnings/);
    rmSync(join(home, "transformed"), { recursive: true });
    const r = run("rejects", "kendal_2024-03-02.csv", "--json");
    assert.is(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { rejected: number; warnings: number; lines: { line: number; kind: string; reason: string }[] };
    assert.equal([got.rejected, got.warnings], [5, 120]);
    assert.equal(
      got.lines.filter((l) => l.kind === "rejected").map((l) => l.line),
      [2, 3, 4, 5, 6],
    );
    const warned = got.lines.filter((l) => l.kind === "warning").map((l) => l.line);
    assert.is(warned.length, 120, "every warning, not the manifest's first 100");
    assert.equal(warned.slice(0, 2), [8, 10]);
    assert.ok(
      got.lines.every((l) => !/Guest|Zebedee/.test(l.reason)),
      "reasons only, no content",
    );
  } finally {
    await dir.remove();
  }
});

test("rejects reads one store, the warehouse's line_notes: with the transformed files still there but emptied, every line is listed, with line, kind and reason", async () => {
  const dir = await tempDir();
  try {
    const { home, run } = ingestedDay(dir.path, "kendal_2024-03-03.csv", "12", 4);
    // The transformed copies of the notes emptied to their header: only the warehouse still has them.
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
    const copies = walk(join(home, "transformed")).filter((f) => /\/(rejects|warnings)\.csv$/.test(f));
    assert.is(copies.length, 2);
    for (const copy of copies) writeFileSync(copy, "line_number,reason\n");
    const r = run("rejects", "kendal_2024-03-03.csv");
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /kendal_2024-03-03\.csv: 127 rows read, 5 rejected, 120 warnings/);
    const listed = [...r.stdout.matchAll(/^(\d+) +\| (rejected|warning) +\| (.+)$/gm)].map((m) => [Number(m[1]), m[2], m[3]!.trim()] as const);
    assert.equal(
      listed.filter(([, kind]) => kind === "rejected").map(([line]) => line),
      [2, 3, 4, 5, 6],
    );
    assert.is(listed.filter(([, kind]) => kind === "warning").length, 120, "every warning");
    assert.ok(
      listed.every(([, , reason]) => reason.length > 0),
      "each with its problem",
    );
    assert.not.match(r.stdout, /have their line recorded/);
  } finally {
    await dir.remove();
  }
});

test.run();
