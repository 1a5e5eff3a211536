// The warm warehouse (functions/local/warm-warehouse.ts, warm-keeper.ts): a home's embedded
// warehouse kept open between commands by a keeper process. What it must never do: let two
// processes open one data directory, carry one command's transaction or settings into the next,
// outlive its home, or serve answers that differ from PGlite opened in the command itself.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { openLocalPipeline } from "../functions/local/pipeline.js";
import { openWarm, startKeeper, stopWarm } from "../functions/local/warm-warehouse.js";
import { frame, frameReader, isKeeper, readRecord, recordPath, warmDir } from "../functions/local/warm-protocol.js";
import { runCoffeetl, tempDir } from "./helpers.js";

const KEY = "warm-warehouse-test-key-0123456789";
const env = (extra: Record<string, string> = {}) => ({ ...process.env, COFFEETL_TRANSACTION_KEY: KEY, ...extra });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function dayFile(dir: string, name: string, seed: string): Promise<string> {
  const path = join(dir, name);
  const sample = await runCoffeetl(["sample", "--rows", "40", "--seed", seed, "--date", "2024-05-01"]);
  writeFileSync(path, sample.stdout);
  return path;
}

async function cli(home: string, args: string[], extra: Record<string, string> = {}) {
  const run = await runCoffeetl([...args, "--home", home], { env: env(extra) });
  assert.is(run.status, 0, `coffeetl ${args.join(" ")}: ${run.stderr}`);
  return run.stdout;
}

async function until(what: string, done: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await sleep(50);
  }
}

const keeperOf = (home: string) => readRecord(join(home, "warehouse"));

/** A temporary folder with homes named `names` in it; their keepers are stopped and the folder removed after. */
async function withHomes(names: string[], work: (dir: string, ...homes: string[]) => Promise<void>): Promise<void> {
  const dir = await tempDir();
  const homes = names.map((name) => join(dir.path, name));
  try {
    await work(dir.path, ...homes);
  } finally {
    for (const home of homes) await stopWarm(join(home, "warehouse"));
    await dir.remove();
  }
}

test("a command leaves the warehouse warm and the next commands use the same keeper", async () => {
  await withHomes(["home"], async (dir, home) => {
    await cli(home, ["ingest", await dayFile(dir, "a.csv", "a")]);
    const first = keeperOf(home);
    assert.ok(first && isKeeper(first.pid, join(home, "warehouse")), "a keeper runs after the first command");
    await cli(home, ["ingest", await dayFile(dir, "b.csv", "b")]);
    const status = await cli(home, ["status"]);
    assert.match(status, /2 files: 2 loaded/);
    assert.is(keeperOf(home)?.pid, first!.pid, "the same keeper served every command");
    // It keeps no secret the command had: the key is not in its environment.
    if (existsSync(`/proc/${first!.pid}/environ`)) assert.not.match(readFileSync(`/proc/${first!.pid}/environ`, "utf8"), KEY);
    // Only its owner may reach it.
    assert.is(statSync(warmDir(join(home, "warehouse"))).mode & 0o777, 0o700);
    assert.is(statSync(recordPath(join(home, "warehouse"))).mode & 0o777, 0o600);
  });
});

test("answers through the keeper are those of PGlite opened in the command", async () => {
  await withHomes(["warm", "cold"], async (dir, warm, cold) => {
    const files = [await dayFile(dir, "a.csv", "same-a"), await dayFile(dir, "b.csv", "same-b")];
    await cli(warm, ["ingest", ...files]);
    await cli(cold, ["ingest", ...files], { COFFEETL_WARM_SECONDS: "0" });
    assert.not.ok(existsSync(recordPath(join(cold, "warehouse"))), "COFFEETL_WARM_SECONDS=0 keeps no keeper");
    const query =
      "SELECT t.transaction_id, t.transaction_time, t.total_amount, COUNT(i.*) AS items, ARRAY_AGG(i.product_id ORDER BY i.product_id) AS products, " +
      "DATE '2024-05-01' AS day, NULL::text AS nothing, 1.5::float8 AS f FROM transactions t JOIN transaction_items i USING (transaction_id) " +
      "GROUP BY 1, 2, 3 ORDER BY 1";
    for (const format of [[], ["--json"], ["--csv"]]) {
      const a = await cli(warm, ["sql", query, ...format]);
      const b = await cli(cold, ["sql", query, ...format], { COFFEETL_WARM_SECONDS: "0" });
      assert.is(a, b, `sql ${format.join(" ")}`);
    }
    // (status and rejects show when each file was loaded: the two homes loaded a second apart at most.)
    const untimed = (text: string) => text.replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/g, "<time>");
    assert.is(untimed(await cli(warm, ["status"])), untimed(await cli(cold, ["status"], { COFFEETL_WARM_SECONDS: "0" })));
    assert.is(untimed(await cli(warm, ["rejects", "a.csv"])), untimed(await cli(cold, ["rejects", "a.csv"], { COFFEETL_WARM_SECONDS: "0" })));
  });
});

test("a command that ends mid-transaction leaves nothing behind: the next one starts on a fresh session", async () => {
  const dir = await tempDir();
  const dataDir = join(dir.path, "wh");
  try {
    startKeeper(dataDir, 60);
    const first = (await openWarm(dataDir))!;
    await first.session.query("CREATE TABLE kept (n int)");
    await first.session.query("BEGIN");
    await first.session.query("INSERT INTO kept VALUES (1)");
    await first.session.query("SET search_path TO nowhere");
    await first.session.query("CREATE TEMP TABLE scratch (n int)");
    const pid = readRecord(dataDir)!.pid;
    // As if the command were killed: its connection drops with the transaction open.
    await first.close();
    const second = (await openWarm(dataDir))!;
    try {
      assert.is(readRecord(dataDir)!.pid, pid, "the same keeper");
      assert.equal(await second.session.query("SELECT COUNT(*)::int AS n FROM public.kept"), [{ n: 0 }]);
      assert.equal(await second.session.query("SELECT current_setting('search_path') <> 'nowhere' AS reset"), [{ reset: true }]);
      assert.equal(await second.session.query("SELECT to_regclass('pg_temp.scratch') IS NULL AS gone"), [{ gone: true }]);
      // And an error keeps PostgreSQL's code, which the loader's retries read.
      const error = await second.session.query("SELECT * FROM missing_table").catch((e: Error & { code?: string }) => e);
      assert.instance(error, Error);
      assert.is((error as { code?: string }).code, "42P01");
    } finally {
      await second.close();
    }
  } finally {
    await stopWarm(dataDir);
    await dir.remove();
  }
});

test("opening the warehouse in a process of its own stops the keeper first: one opener at a time", async () => {
  await withHomes(["home"], async (dir, home) => {
    await cli(home, ["ingest", await dayFile(dir, "a.csv", "one-opener")]);
    const { pid } = keeperOf(home)!;
    const pipeline = await openLocalPipeline({ home, engine: "heavy", readOnly: true });
    try {
      assert.not.ok(isKeeper(pid, join(home, "warehouse")), "the keeper has exited before the warehouse opened here");
      assert.not.ok(existsSync(recordPath(join(home, "warehouse"))));
      const [row] = await pipeline.warehouse.query<{ n: number }>("SELECT COUNT(*) AS n FROM transactions");
      assert.is(row!.n, 40);
    } finally {
      await pipeline.close();
    }
    // A big ingest (heavy) does the same.
    await cli(home, ["status"]);
    const again = keeperOf(home)!.pid;
    await cli(home, ["ingest", await dayFile(dir, "b.csv", "one-opener-b")], { COFFEETL_ENGINE: "heavy" });
    assert.not.ok(isKeeper(again, join(home, "warehouse")));
  });
});

test("a keeper killed outright is replaced, and the warehouse recovers", async () => {
  await withHomes(["home"], async (dir, home) => {
    await cli(home, ["ingest", await dayFile(dir, "a.csv", "killed")]);
    const { pid } = keeperOf(home)!;
    process.kill(pid, "SIGKILL");
    await until("the keeper to die", () => !isKeeper(pid, join(home, "warehouse")));
    await cli(home, ["ingest", await dayFile(dir, "b.csv", "killed-b")]);
    assert.match(await cli(home, ["status"]), /2 files: 2 loaded/);
    assert.is.not(keeperOf(home)!.pid, pid);
  });
});

test("a keeper of another build is stopped and replaced, never spoken to", async () => {
  await withHomes(["home"], async (dir, home) => {
    await cli(home, ["ingest", await dayFile(dir, "a.csv", "build")]);
    const record = keeperOf(home)!;
    writeFileSync(recordPath(join(home, "warehouse")), JSON.stringify({ ...record, version: "0/older" }));
    await cli(home, ["status"]);
    assert.not.ok(isKeeper(record.pid, join(home, "warehouse")), "the older keeper is gone");
    assert.is.not(keeperOf(home)!.pid, record.pid);
  });
});

test("a home copied with its keeper's record gets its own keeper and leaves the original's alone", async () => {
  await withHomes(["home", "copy"], async (dir, home, copy) => {
    await cli(home, ["ingest", await dayFile(dir, "a.csv", "copied")]);
    const original = keeperOf(home)!;
    execFileSync("cp", ["-a", home, copy]);
    assert.match(await cli(copy, ["status"]), /1 file: 1 loaded/);
    assert.is.not(keeperOf(copy)!.pid, original.pid, "the copy has a keeper of its own");
    assert.ok(isKeeper(original.pid, join(home, "warehouse")) && existsSync(original.socket), "the original keeper and its socket are untouched");
    assert.match(await cli(home, ["status"]), /1 file: 1 loaded/);
    assert.is(keeperOf(home)!.pid, original.pid);
  });
});

test("a keeper exits when idle, and at once when its home is removed", async () => {
  const dir = await tempDir();
  try {
    const idle = join(dir.path, "idle");
    await cli(idle, ["ingest", await dayFile(dir.path, "a.csv", "idle")], { COFFEETL_WARM_SECONDS: "1" });
    const { pid, socket } = keeperOf(idle)!;
    await until("the idle keeper to exit", () => !isKeeper(pid, join(idle, "warehouse")));
    assert.not.ok(existsSync(recordPath(join(idle, "warehouse"))), "its record is removed");
    assert.not.ok(existsSync(socket), "its socket is removed");

    const removed = join(dir.path, "removed");
    await cli(removed, ["ingest", await dayFile(dir.path, "b.csv", "removed")]);
    const kept = keeperOf(removed)!;
    execFileSync("rm", ["-rf", removed]);
    await until("the keeper of a removed home to exit", () => !isKeeper(kept.pid, join(removed, "warehouse")), 5000);
  } finally {
    await dir.remove();
  }
});

test("a home too deep for a socket path gets a private socket folder under the temporary directory", async () => {
  const dir = await tempDir();
  try {
    const home = join(dir.path, "a-rather-long-folder-name-for-a-home".repeat(3), "home");
    await mkdir(dirname(home), { recursive: true });
    await cli(home, ["ingest", await dayFile(dir.path, "a.csv", "deep")]);
    const { socket, pid } = keeperOf(home)!;
    assert.ok(socket.startsWith(join(tmpdir(), "coffeetl-warm-")), socket);
    assert.is(statSync(dirname(socket)).mode & 0o777, 0o700);
    assert.match(await cli(home, ["status"]), /1 file: 1 loaded/);
    assert.is(keeperOf(home)!.pid, pid);
    await stopWarm(join(home, "warehouse"));
    assert.not.ok(existsSync(dirname(socket)), "its folder goes with it");
  } finally {
    await dir.remove();
  }
});

test("COFFEETL_WARM_SECONDS must be a whole number", async () => {
  const dir = await tempDir();
  try {
    const run = await runCoffeetl(["ingest", await dayFile(dir.path, "a.csv", "knob"), "--home", join(dir.path, "home")], {
      env: env({ COFFEETL_WARM_SECONDS: "soon" }),
    });
    assert.is(run.status, 2, run.stderr);
    assert.match(run.stderr, /COFFEETL_WARM_SECONDS must be a whole number of seconds/);
  } finally {
    await dir.remove();
  }
});

test("frames come out whole and in order however the socket cuts the stream", () => {
  const big = Buffer.alloc(3 << 20, 7);
  const values = [
    { op: "query", sql: "SELECT 1" },
    { op: "copy", csv: big },
    { ok: true, value: [{ at: new Date(0), n: 1.5, a: [1, 2] }] },
  ];
  const stream = Buffer.concat(values.map(frame));
  for (const cut of [1, 3, 4, 5, 4096, 65536, stream.length]) {
    const seen: unknown[] = [];
    const read = frameReader((value) => seen.push(value));
    for (let at = 0; at < stream.length; at += cut) read(stream.subarray(at, at + cut));
    assert.equal(seen, values, `chunks of ${cut} bytes`);
  }
});

test.run();
