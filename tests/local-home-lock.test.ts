// One process per local home: two `coffeetl ingest` processes on one PGlite home. The second waits
// for the first (saying so) instead of opening the embedded warehouse beside it; the warehouse is
// never corrupted and its figures equal one run's.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { openLocalPipeline } from "../functions/local/pipeline.js";
import { FIXTURES, ROOT, SHARED_SAMPLES, tempDir } from "./helpers.js";

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}
const coffeetl = (home: string, ...args: string[]): Promise<Run> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, "bin/coffeetl.js"), ...args, "--home", home], { env: { ...process.env, COFFEETL_TRANSACTION_KEY: "" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });

const FIGURES = `SELECT (SELECT COUNT(*) FROM transactions) AS sales, (SELECT SUM(total_amount) FROM transactions) AS revenue,
  (SELECT COUNT(*) FROM transaction_items) AS items, (SELECT COUNT(DISTINCT transaction_id) FROM transactions) AS ids,
  (SELECT COUNT(*) FROM transactions t WHERE NOT EXISTS (SELECT 1 FROM transaction_items i WHERE i.transaction_id = t.transaction_id)) AS without_items,
  (SELECT COUNT(*) FROM loads) AS loads`;

if (!SHARED_SAMPLES) console.log("[skip] real sample files in the home-lock test: ../shared/samples not found (the fixtures alone are used)");
const paths = [FIXTURES, ...(SHARED_SAMPLES ? [SHARED_SAMPLES] : [])];

test("two ingests on one home: the second waits for the first, and the figures equal one run", async () => {
  const home = await tempDir();
  try {
    const [a, b] = await Promise.all([coffeetl(home.path, "ingest", ...paths), coffeetl(home.path, "ingest", ...paths)]);
    // The fixtures hold two unreadable files on purpose: both runs exit 1 for them, and only for them.
    for (const run of [a, b]) {
      assert.is(run.status, 1, run.stdout + run.stderr);
      assert.equal([...run.stdout.matchAll(/✘ .*\/(\w+\.csv): failed/g)].map((m) => m[1]), ["not_csv.csv", "prose.csv"]);
    }
    const waited = [a, b].filter((r) => /is in use by another coffeetl command; waiting for it to finish/.test(r.stderr));
    assert.is(waited.length, 1, "exactly one of them waited, and said so");
    // The one that waited found everything loaded.
    assert.ok(/ 0 new sales/.test(waited[0]!.stdout), waited[0]!.stdout);

    const reference = await tempDir();
    try {
      const one = await coffeetl(reference.path, "ingest", ...paths);
      assert.is(one.status, 1);
      const read = async (dir: string) => {
        const local = await openLocalPipeline({ home: dir });
        try {
          return (await local.warehouse.query<Record<string, unknown>>(FIGURES))[0]!;
        } finally {
          await local.close();
        }
      };
      const shared = await read(home.path);
      assert.equal(shared, await read(reference.path));
      assert.equal([shared.ids, shared.without_items], [shared.sales, 0]);
    } finally {
      await reference.remove();
    }
  } finally {
    await home.remove();
  }
});

test("a home in use: with no wait allowed, a clear error at once", async () => {
  const home = await tempDir();
  try {
    const first = await openLocalPipeline({ home: home.path });
    try {
      await openLocalPipeline({ home: home.path, waitMs: 0 }).then(
        () => assert.unreachable("opened a home in use"),
        (e: Error) => assert.match(e.message, /is in use by another coffeetl command; try again when it has finished/),
      );
    } finally {
      await first.close();
    }
    // Released on close: the next one opens at once.
    const next = await openLocalPipeline({ home: home.path, waitMs: 0 });
    await next.close();
  } finally {
    await home.remove();
  }
});

test.run();
