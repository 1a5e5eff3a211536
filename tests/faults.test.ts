// Faults end in a recorded failure (issue 19 item 5): a file name holding a newline or a tab, and a raw
// key too long for its outputs' keys, each give one clear line naming the file and the cause and a
// `file_outcomes` row that `status --failed` shows; the other files load. Locally (the pipeline
// `coffeetl ingest` runs) and on AWS (the extract-transform handler's failed.json, recorded by the load).
import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { visibleKey } from "../functions/core/errors.js";
import { openLocalPipeline } from "../functions/local/pipeline.js";
import { dayFile } from "./day-file.js";
import { tempDir } from "./helpers.js";

test("local: control characters in names and a key too long for its outputs are refused, recorded, and the rest loads", async () => {
  const dir = await tempDir();
  process.env.COFFEETL_TRANSACTION_KEY = "faults-test-key-0123456789abcdef";
  const local = await openLocalPipeline({ home: join(dir.path, "home"), waitMs: 0 });
  try {
    const files = join(dir.path, "files");
    mkdirSync(files);
    const newline = join(files, "leeds\nday.csv");
    const tab = join(files, "york\tday.csv");
    const good = join(files, "good.csv");
    // Six nested folders of 200 bytes: the raw key is ~1,250 bytes, over what S3 allows for its outputs.
    const deep = join(files, ...Array.from({ length: 6 }, (_, i) => `${i}`.padEnd(200, "x")));
    mkdirSync(deep, { recursive: true });
    const long = join(deep, "day.csv");
    for (const [path, branch] of [
      [newline, "Leeds"],
      [tab, "York"],
      [good, "Hull"],
      [long, "Bath"],
    ] as const)
      writeFileSync(path, dayFile(5, branch));

    const reports = await local.ingest([newline, tab, good, long]);
    const byPath = new Map(reports.map((r) => [r.path, r]));
    assert.is(reports.length, 4);
    assert.ok(byPath.get(good)!.ok, byPath.get(good)!.error);
    for (const path of [newline, tab]) {
      const r = byPath.get(path)!;
      assert.not.ok(r.ok);
      assert.match(r.error!, /the file name holds a control character/);
      assert.not.match(r.error!, /[\n\t]/, "one line");
    }
    assert.match(byPath.get(long)!.error!, /S3 keys are at most 1024: upload it again under a shorter name or folder/);

    const rows = await local.warehouse.query<{ source_key: string; outcome: string; reason: string }>(
      "SELECT source_key, outcome, reason FROM file_outcomes WHERE outcome = 'failed' ORDER BY source_key",
    );
    assert.is(rows.length, 3, JSON.stringify(rows));
    const keys = rows.map((r) => r.source_key);
    assert.ok(
      keys.some((k) => k.endsWith(visibleKey("leeds\nday.csv"))),
      keys.join(" | "),
    );
    assert.ok(
      keys.some((k) => k.endsWith("york\\tday.csv")),
      keys.join(" | "),
    );
    assert.ok(
      keys.some((k) => Buffer.byteLength(k) <= 1024 && k.endsWith("...")),
      "the long key, clipped to its column",
    );
    const [sales] = await local.warehouse.query<{ n: number }>("SELECT COUNT(*) AS n FROM transactions");
    assert.is(Number(sales!.n), 5, "the good file loaded");
  } finally {
    await local.close();
    delete process.env.COFFEETL_TRANSACTION_KEY;
    await dir.remove();
  }
});

test("local: an older copy of a file ingested after the newer one is superseded on arrival (by modification time)", async () => {
  const dir = await tempDir();
  process.env.COFFEETL_TRANSACTION_KEY = "faults-test-key-0123456789abcdef";
  const local = await openLocalPipeline({ home: join(dir.path, "home"), waitMs: 0 });
  try {
    const path = join(dir.path, "day.csv");
    writeFileSync(path, dayFile(20));
    const [v2] = await local.ingest([path]);
    assert.is(v2!.outcome, "loaded");
    // Yesterday's copy (the fuller export) put back over it, its modification time kept (cp -p).
    writeFileSync(path, dayFile(38));
    const yesterday = new Date(Date.now() - 86_400_000);
    utimesSync(path, yesterday, yesterday);
    const [v1] = await local.ingest([path]);
    assert.ok(v1!.ok, v1!.error);
    assert.is(v1!.outcome, "superseded");
    const [sales] = await local.warehouse.query<{ n: number }>("SELECT COUNT(*) AS n FROM transactions");
    assert.is(Number(sales!.n), 20, "the newer version stays");
    // Touched, the same copy is the newest: it loads.
    utimesSync(path, new Date(), new Date());
    const [touched] = await local.ingest([path]);
    assert.is(touched!.outcome, "loaded");
    const [after] = await local.warehouse.query<{ n: number }>("SELECT COUNT(*) AS n FROM transactions");
    assert.is(Number(after!.n), 38);
  } finally {
    await local.close();
    delete process.env.COFFEETL_TRANSACTION_KEY;
    await dir.remove();
  }
});

test.run();
