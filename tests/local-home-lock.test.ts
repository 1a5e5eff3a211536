// One process per local home: two `coffeetl ingest` processes on one PGlite home. The second waits
// for the first (saying so) instead of opening the embedded warehouse beside it; the warehouse is
// never corrupted and its figures equal one run's.
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { openLocalPipeline } from "../functions/local/pipeline.js";
import { FIXTURES, SHARED_SAMPLES, runCoffeetlSync, startCoffeetl, tempDir, type CoffeetlOptions } from "./helpers.js";

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}
const UNKEYED: CoffeetlOptions = { env: { ...process.env, COFFEETL_TRANSACTION_KEY: "" } };
const coffeetl = (home: string, ...args: string[]): Promise<Run> => started(home, ...args).done;
/** A running `coffeetl` (its process, and its result when it ends). */
const started = (home: string, ...args: string[]): { child: ChildProcess; done: Promise<Run>; stderr: () => string } => {
  const { child, output, done } = startCoffeetl([...args, "--home", home], UNKEYED);
  return { child, done, stderr: () => output.stderr };
};

const FIGURES = `SELECT (SELECT COUNT(*) FROM transactions) AS sales, (SELECT SUM(total_amount) FROM transactions) AS revenue,
  (SELECT COUNT(*) FROM transaction_items) AS items, (SELECT COUNT(DISTINCT transaction_id) FROM transactions) AS ids,
  (SELECT COUNT(*) FROM transactions t WHERE NOT EXISTS (SELECT 1 FROM transaction_items i WHERE i.transaction_id = t.transaction_id)) AS without_items,
  (SELECT COUNT(*) FROM loads) AS loads`;

if (!SHARED_SAMPLES) console.log("[skip] real sample files in the home-lock test: ../shared/samples not found (the fixtures alone are used)");
const paths = [FIXTURES, ...(SHARED_SAMPLES ? [SHARED_SAMPLES] : [])];

test("two ingests on one home: the second waits for the first, and the figures equal one run", async () => {
  const home = await tempDir();
  try {
    // The first is paused once it holds the home and resumed once the second says it waits: two
    // real processes that overlap on every machine, however loaded (started together, the first
    // could finish before the second had started).
    const first = started(home.path, "ingest", ...paths);
    await until("the first ingest to hold the home", () => existsSync(join(home.path, "home.lock", "owner.json")));
    first.child.kill("SIGSTOP");
    const second = started(home.path, "ingest", ...paths);
    try {
      await until("the second ingest to wait", () => /waiting for it to finish/.test(second.stderr()));
    } finally {
      first.child.kill("SIGCONT");
    }
    const [a, b] = await Promise.all([first.done, second.done]);
    // The fixtures hold two unreadable files on purpose: both runs exit 1 for them, and only for them.
    for (const run of [a, b]) {
      assert.is(run.status, 1, run.stdout + run.stderr);
      assert.equal(
        [...run.stdout.matchAll(/✘ .*\/(\w+\.csv): failed/g)].map((m) => m[1]),
        ["not_csv.csv", "prose.csv"],
      );
    }
    const waited = [a, b].filter((r) =>
      /is in use by another coffeetl command \(coffeetl ingest, pid \d+, since [^)]*\); waiting for it to finish/.test(r.stderr),
    );
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
        (e: Error) => assert.match(e.message, /is in use by another coffeetl command \([^)]*pid \d+[^)]*\); try again when it has finished/),
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

/** Starts the CLI and returns the child with its output collected so far. */
function start(home: string, ...args: string[]): { child: ChildProcess; out: { stdout: string; stderr: string }; done: Promise<number | null> } {
  const { child, output: out, done } = startCoffeetl([...args, "--home", home], UNKEYED);
  return { child, out, done: done.then((r) => r.status) };
}

const until = async (what: string, ok: () => boolean, timeoutMs = 180_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

const holderPid = (home: string): number | undefined => {
  try {
    return (JSON.parse(readFileSync(join(home, "home.lock", "owner.json"), "utf8")) as { pid: number }).pid;
  } catch {
    return undefined;
  }
};

test("a kill -9'd ingest: the waiting command says who holds the home, and takes it within 5 s of the kill", async () => {
  const home = await tempDir();
  try {
    const big = join(home.path, "big.csv");
    const sample = runCoffeetlSync(["sample", "--rows", "150000", "--seed", "9"]);
    writeFileSync(big, sample.stdout);
    const ingest = start(join(home.path, "h"), "ingest", big);
    await until("the ingest to take the home", () => holderPid(join(home.path, "h")) === ingest.child.pid);
    const status = start(join(home.path, "h"), "status");
    await until("status to wait", () => /waiting for it to finish/.test(status.out.stderr));
    const pid = ingest.child.pid!;
    assert.match(
      status.out.stderr,
      new RegExp(
        `is in use by another coffeetl command \\(coffeetl ingest, pid ${pid}, since \\d\\d:\\d\\d:\\d\\d UTC, \\d+ s ago\\); waiting for it to finish\\.\\.\\. \\(Ctrl-C stops waiting; \`kill ${pid}\` stops that command\\)`,
      ),
    );
    ingest.child.kill("SIGKILL");
    const killed = Date.now();
    await ingest.done;
    await until("status to take the home", () => holderPid(join(home.path, "h")) === status.child.pid || status.child.exitCode !== null, 60_000);
    const tookMs = Date.now() - killed;
    console.log(`  the waiting status took the home ${tookMs} ms after the kill`);
    assert.ok(tookMs < 5_000, `took ${tookMs} ms (the old lock waited 5 minutes for a dead holder)`);
    assert.is(await status.done, 0, status.out.stderr);
    // The embedded warehouse survived the kill: a new ingest loads and the figures read back.
    const again = start(join(home.path, "h"), "ingest", join(FIXTURES, "canonical.csv"));
    assert.is(await again.done, 0, again.out.stdout + again.out.stderr);
    const count = start(join(home.path, "h"), "sql", "SELECT COUNT(*) AS n FROM transactions WHERE source_key LIKE '%canonical.csv'", "--json");
    assert.is(await count.done, 0, count.out.stderr);
    assert.equal(JSON.parse(count.out.stdout), [{ n: 5 }]);
  } finally {
    await home.remove();
  }
});

test("dashboards --serve holds the home only while it draws a page: sql and ingest run beside it", async () => {
  const home = await tempDir();
  try {
    const h = join(home.path, "h");
    const first = start(h, "ingest", join(FIXTURES, "canonical.csv"));
    assert.is(await first.done, 0, first.out.stderr);
    const serve = start(h, "dashboards", "--serve");
    try {
      await until("the preview to listen", () => /at (http:\/\/127\.0\.0\.1:\d+\/)/.test(serve.out.stdout));
      const url = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(serve.out.stdout)![1]!;
      const page = await fetch(url);
      assert.is(page.status, 200, await page.clone().text());
      assert.match(await page.text(), /CoffeETL · Sales/);
      const sql = start(h, "sql", "SELECT COUNT(*) AS n FROM transactions", "--json");
      assert.is(await sql.done, 0, sql.out.stderr);
      assert.not.match(sql.out.stderr, /waiting/, "sql never waited for the preview");
      assert.equal(JSON.parse(sql.out.stdout), [{ n: 5 }]);
      const more = start(h, "ingest", join(FIXTURES, "legacy_crlf.csv"));
      assert.is(await more.done, 0, more.out.stderr);
      assert.not.match(more.out.stderr, /waiting/);
      // The next page shows what was loaded meanwhile.
      assert.is((await fetch(url)).status, 200);
    } finally {
      serve.child.kill("SIGTERM");
      await serve.done;
    }
  } finally {
    await home.remove();
  }
});

test.run();
