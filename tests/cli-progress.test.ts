// The ingest progress display (cli/progress.ts) on a stand-in terminal with a stand-in clock.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { IngestProgress, duration } from "../cli/progress.js";
import type { FileReport } from "../functions/local/pipeline.js";
import { tempDir } from "./helpers.js";

const report = (path: string, ok = true): FileReport => ({
  path,
  key: path,
  ok,
  rowsRead: 0,
  transactionsNew: 0,
  duplicates: 0,
  rejected: 0,
  warnings: 0,
  durationMs: 0,
});

test("a terminal sees phase, share, rows/s and ETA for the transform, then rows, rows/s and ETA for the load", async () => {
  const dir = await tempDir();
  try {
    const file = join(dir.path, "leeds.csv");
    writeFileSync(file, "x".repeat(99) + "\n".repeat(1)); // 100 bytes a row
    let now = 0;
    const writes: string[] = [];
    const progress = new IngestProgress({ isTTY: true, columns: 200, write: (t) => writes.push(t) }, 2, () => now);

    progress.fileStart(file, 10_000_000);
    now = 2000;
    progress.transformProgress(file, 4_000_000, 10_000_000);
    assert.is(progress.render(), "[1/2] leeds.csv  transform  ████████░░░░░░░░░░░░  40%  3.8/9.5 MB  ~20,000 rows/s  ETA 3s");
    progress.loadStart([file], 100_000);
    now = 7000;
    assert.is(progress.render(), "[1/2] leeds.csv  load  100,000 rows  5s", "no load rate known yet: no ETA");
    progress.fileDone(report(file));
    assert.is(progress.render(), undefined);

    // The second file's load ETA comes from the first load's rate (100,000 rows in 5 s).
    progress.fileStart(file, 1000);
    progress.loadStart([file], 50_000);
    now = 8000;
    assert.is(progress.render(), "[2/2] leeds.csv  load  50,000 rows  1s  ~20,000 rows/s  ETA ~2s");
    progress.fileDone(report(file));

    // Loads in batches (several transformed files in one transaction) show the batch.
    const batch = new IngestProgress({ isTTY: true, write: () => {} }, 5, () => now);
    for (let i = 0; i < 3; i++) batch.fileStart(file, 1000);
    batch.loadStart([file, file, file], 30_000);
    now = 10_000;
    assert.is(batch.render(), "[1-3/5] 3 files  load  30,000 rows  2s");
    progress.stop();
    assert.ok(
      writes.every((w) => w.startsWith("\r\x1b[K")),
      "redraws overwrite the one status line",
    );
  } finally {
    await dir.remove();
  }
});

test("elsewhere (not a terminal) it writes nothing: the report prints one line per file", () => {
  const writes: string[] = [];
  const progress = new IngestProgress({ isTTY: false, write: (t) => writes.push(t) }, 1, () => 0);
  progress.fileStart("/nope.csv", 100);
  progress.transformProgress("/nope.csv", 50, 100);
  progress.loadStart(["/nope.csv"], 10);
  progress.fileDone(report("/nope.csv"));
  progress.stop();
  assert.equal(writes, []);
});

test("durations read as a person says them", () => {
  assert.equal([duration(400), duration(59_000), duration(61_000), duration(3_725_000)], ["0s", "59s", "1m01s", "1h02m"]);
});

test.run();
