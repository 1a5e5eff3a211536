// Exactly once, whoever loads at the same time (docs/design.md §7.1), on a stand-in that fails the way
// Redshift does: a PostgreSQL server database whose tables have no keys (Redshift enforces none)
// and whose default isolation is REPEATABLE READ (Redshift's SNAPSHOT) or SERIALIZABLE. Two real
// `coffeetl ingest --database-url` processes (separate homes, one key) load overlapping files.
// Also: one identity per warehouse (a second home with another key is refused, loads nothing).
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { REDSHIFT_DIALECT } from "../functions/aws/redshift-sql.js";
import { CREATE_TABLES, LOAD_LOCK_TABLE } from "../functions/core/schema.js";
import { readerTables } from "../functions/warehouse/reader-role.js";
import { loadManifests } from "../functions/app/load-manifests.js";
import { FolderStorage } from "../functions/local/folder-storage.js";
import { PostgresWarehouse } from "../functions/local/postgres-warehouse.js";
import { FIXTURES, SHARED_SAMPLES, runCoffeetl, tempDir, transformObject } from "./helpers.js";
import { dayFile } from "./day-file.js";

const adminUrl = process.env.COFFEETL_TEST_DATABASE_URL;
const KEY = "concurrency-test-key-0123456789abcdef";

async function createDatabase(options: { keyless?: boolean; isolation?: string } = {}) {
  const name = `coffeetl_conc_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  if (options.isolation) await admin.query(`ALTER DATABASE ${name} SET default_transaction_isolation = '${options.isolation}'`);
  await admin.end();
  const url = new URL(adminUrl!);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  if (options.keyless) {
    // The project's tables as Redshift holds them: no key is enforced.
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    for (const sql of CREATE_TABLES) await c.query(sql.replace(/,\s*PRIMARY KEY \([^)]*\)/, ""));
    const { rows } = await c.query("SELECT COUNT(*)::int AS n FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'");
    assert.is(rows[0].n, 0, "no constraints on the stand-in");
    await c.end();
  }
  return {
    databaseUrl,
    async query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      try {
        return (await c.query(sql)).rows as T[];
      } finally {
        await c.end();
      }
    },
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function ingest(home: string, databaseUrl: string, paths: string[], env: Record<string, string> = {}): Promise<Run> {
  return runCoffeetl(["ingest", ...paths, "--home", home, "--database-url", databaseUrl], {
    // One manifest per transaction: as many transactions as files, the most chances to race.
    env: { ...process.env, COFFEETL_TRANSACTION_KEY: KEY, COFFEETL_LOAD_BATCH: "1", ...env },
  });
}

/** Overlapping real files: the good fixtures, the shared samples, and a partial export of each sample. */
async function overlappingFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const name of (await readdir(FIXTURES)).sort()) {
    if (name === "not_csv.csv" || name === "prose.csv") continue; // unreadable on purpose: they fail in every run
    await copyFile(join(FIXTURES, name), join(dir, `fixture_${name}`));
    files.push(join(dir, `fixture_${name}`));
  }
  if (!SHARED_SAMPLES) return files;
  for (const variant of (await readdir(SHARED_SAMPLES, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()) {
    for (const name of (await readdir(join(SHARED_SAMPLES, variant))).filter((n) => n.endsWith(".csv"))) {
      const content = await readFile(join(SHARED_SAMPLES, variant, name), "utf8");
      const whole = join(dir, `${variant}.csv`);
      await writeFile(whole, content);
      // The first half of the day again, as an overlapping export: the same sales, another file.
      const lines = content.split(/(?<=\n)/);
      const half = join(dir, `${variant}_morning.csv`);
      await writeFile(half, lines.slice(0, Math.ceil(lines.length / 2)).join(""));
      files.push(whole, half);
    }
  }
  return files;
}

interface Figures {
  sales: number;
  revenue: string;
  units: number;
  branches: number;
  products: number;
  loads: number;
}
const FIGURES = `SELECT (SELECT COUNT(*)::int FROM transactions) AS sales, (SELECT SUM(total_amount)::text FROM transactions) AS revenue,
  (SELECT SUM(quantity)::int FROM transaction_items) AS units, (SELECT COUNT(*)::int FROM branches) AS branches,
  (SELECT COUNT(*)::int FROM products) AS products, (SELECT COUNT(*)::int FROM loads) AS loads`;

/** Rows beyond the first of each key, per table: all must be 0. */
const DUPLICATES = `SELECT
  (SELECT COUNT(*) - COUNT(DISTINCT transaction_id) FROM transactions)::int AS transactions,
  (SELECT COUNT(*) - COUNT(DISTINCT (transaction_id, product_id, unit_price)) FROM transaction_items)::int AS transaction_items,
  (SELECT COUNT(*) - COUNT(DISTINCT branch_id) FROM branches)::int AS branches,
  (SELECT COUNT(*) - COUNT(DISTINCT product_id) FROM products)::int AS products,
  (SELECT COUNT(*) - COUNT(DISTINCT load_id) FROM loads)::int AS loads,
  (SELECT COUNT(*) - COUNT(DISTINCT (transaction_id, load_id)) FROM load_sales)::int AS load_sales,
  (SELECT COUNT(*) - 1 FROM warehouse_identity)::int AS warehouse_identity,
  (SELECT COUNT(*) FROM transactions t WHERE NOT EXISTS (SELECT 1 FROM transaction_items i WHERE i.transaction_id = t.transaction_id))::int AS sales_without_items,
  (SELECT COUNT(*) FROM transaction_items i WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.transaction_id = i.transaction_id))::int AS items_without_sale`;

const transactionsNew = (run: Run) => [...run.stdout.matchAll(/(\d+) sales new/g)].reduce((n, m) => n + Number(m[1]), 0);

if (!adminUrl) {
  console.log("[skip] concurrent loads: COFFEETL_TEST_DATABASE_URL is not set (run scripts/start-postgres.sh)");
  test.skip("concurrent loads on a PostgreSQL server", () => {});
} else {
  if (!SHARED_SAMPLES) console.log("[skip] real sample files in the concurrent loads: ../shared/samples not found (the fixtures alone are used)");
  const work = await tempDir();
  const upload = join(work.path, "upload");
  await mkdir(upload);
  const files = await overlappingFiles(upload);
  let single: Figures | undefined;

  test.after(() => work.remove());

  test("one loader alone: the reference figures", async () => {
    const db = await createDatabase({ keyless: true, isolation: "repeatable read" });
    try {
      const run = await ingest(join(work.path, "home-single"), db.databaseUrl, files);
      assert.is(run.status, 0, run.stdout + run.stderr);
      [single] = await db.query<Figures>(FIGURES);
      assert.ok(single!.sales > 0);
      assert.is(transactionsNew(run), single!.sales, "each sale reported new once");
    } finally {
      await db.drop();
    }
  });

  for (const isolation of ["repeatable read", "serializable"]) {
    test(`two concurrent loaders, keys dropped, ${isolation}: no duplicate of any kind, no failed file, one loader's figures`, async () => {
      assert.ok(single, "the single-loader run ran first");
      const db = await createDatabase({ keyless: true, isolation });
      try {
        const tag = isolation.replace(" ", "-");
        // Same files in the same order: both loaders reach each file at about the same moment.
        const [a, b] = await Promise.all([
          ingest(join(work.path, `home-${tag}-a`), db.databaseUrl, files),
          ingest(join(work.path, `home-${tag}-b`), db.databaseUrl, files),
        ]);
        for (const run of [a, b]) {
          assert.is(run.status, 0, run.stdout + run.stderr);
          assert.not.match(run.stdout, /✘/);
        }
        const [duplicates] = await db.query(DUPLICATES);
        assert.equal(duplicates, {
          transactions: 0,
          transaction_items: 0,
          branches: 0,
          products: 0,
          loads: 0,
          load_sales: 0,
          warehouse_identity: 0,
          sales_without_items: 0,
          items_without_sale: 0,
        });
        assert.equal((await db.query<Figures>(FIGURES))[0], single);
        // Between them the two loaders reported each sale as new exactly once.
        assert.is(transactionsNew(a) + transactionsNew(b), single!.sales);
      } finally {
        await db.drop();
      }
    });
  }

  test("a dashboard query answers while a load holds the loaders' lock; no data table is locked against readers", async () => {
    const db = await createDatabase({ keyless: true, isolation: "repeatable read" });
    const blocker = new pg.Client({ connectionString: db.databaseUrl });
    const reader = new pg.Client({ connectionString: db.databaseUrl });
    const rival = new pg.Client({ connectionString: db.databaseUrl });
    try {
      const first = await ingest(join(work.path, "home-read-a"), db.databaseUrl, files.slice(0, 2));
      assert.is(first.status, 0, first.stdout + first.stderr);
      // What a dashboard asks: every table the reader role reads, and sales by branch.
      const DASHBOARD = `SELECT ${readerTables()
        .map((t) => `(SELECT COUNT(*)::int FROM ${t}) AS ${t}`)
        .join(", ")},
  (SELECT string_agg(b.branch_name || '=' || s.n, ',' ORDER BY b.branch_name) FROM branches b
   JOIN (SELECT branch_id, COUNT(*) AS n FROM transactions GROUP BY branch_id) s ON s.branch_id = b.branch_id) AS by_branch`;
      const [before] = await db.query(DASHBOARD);

      // Hold the next load inside its transaction, after its lock and staging: its first write to
      // warehouse_identity waits for this SHARE lock (which readers do not conflict with).
      await blocker.connect();
      await blocker.query("BEGIN");
      await blocker.query("LOCK TABLE warehouse_identity IN SHARE MODE");
      let finished = false;
      const load = ingest(join(work.path, "home-read-b"), db.databaseUrl, files.slice(2, 6)).then((r) => ((finished = true), r));
      const held = `SELECT l.mode, c.relname, l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
WHERE l.granted AND l.pid <> pg_backend_pid() AND l.pid <> ${"$"}1`;
      let locks: { mode: string; relname: string; pid: number }[] = [];
      const blockerPid = (await blocker.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
      await reader.connect();
      const loaderLock = () => locks.find((l) => l.relname === LOAD_LOCK_TABLE && l.mode === "AccessExclusiveLock");
      for (let i = 0; i < 600 && !loaderLock(); i++) {
        await new Promise((r) => setTimeout(r, 100));
        locks = (await reader.query(held, [blockerPid])).rows;
      }
      const loader = loaderLock();
      assert.ok(loader, `a load holds the loaders' lock in the mode of Redshift's LOCK (locks held: ${JSON.stringify(locks)})`);
      const onData = locks.filter(
        (l) => l.pid === loader!.pid && readerTables().includes(l.relname) && !["AccessShareLock", "RowShareLock", "RowExclusiveLock"].includes(l.mode),
      );
      assert.equal(onData, [], "no data table locked against readers or writers of rows");

      // The dashboard answers at once, with the committed figures (the load has not committed).
      await reader.query("SET statement_timeout = '5s'");
      const started = Date.now();
      const [during] = (await reader.query(DASHBOARD)).rows;
      assert.ok(Date.now() - started < 5000);
      assert.equal(during, before);
      assert.not.ok(finished, "the load was still running when the dashboard answered");

      // Another loader, with Redshift's own lock statement, waits for the lock.
      await rival.connect();
      await rival.query("BEGIN");
      await rival.query("SET LOCAL lock_timeout = '500ms'");
      let waited = "";
      await rival.query(REDSHIFT_DIALECT.lock(LOAD_LOCK_TABLE)).catch((e: Error) => (waited = e.message));
      assert.match(waited, /lock timeout/, "loaders take turns");
      await rival.query("ROLLBACK");

      await blocker.query("COMMIT");
      const second = await load;
      assert.is(second.status, 0, second.stdout + second.stderr);
      const [after] = await db.query<Record<string, number>>(DASHBOARD);
      assert.ok(after!.transactions! > (before as Record<string, number>).transactions!, "the load then committed");
    } finally {
      for (const c of [blocker, reader, rival]) await c.end().catch(() => {});
      await db.drop();
    }
  });

  test("two loaders with v1 and v2 of one file at once, 24 trials on the keyless snapshot stand-in: the newest version stays every time", async () => {
    // Both versions transformed once (v2 the newer file); then each trial two warehouse connections
    // load them at the same moment, in either order, with a random head start.
    const dir = await tempDir("coffeetl-versions-");
    const db = await createDatabase({ keyless: true, isolation: "repeatable read" });
    const key = "uploads/leeds/2024-03-01.csv";
    const raw = new FolderStorage(join(dir.path, "raw"));
    const transformed = new FolderStorage(join(dir.path, "transformed"));
    const versions: string[] = [];
    for (const [i, n] of [382, 200].entries()) {
      const file = join(dir.path, `v${i + 1}.csv`);
      await writeFile(file, dayFile(n));
      await raw.putFile(key, file);
      const t = await transformObject({ raw, transformed, transactionIdKey: KEY }, key, { modifiedMs: 1_700_000_000_000 + i * 60_000 });
      versions.push(t.manifestKey);
    }
    const loaders = [0, 1].map(() => PostgresWarehouse.open({ databaseUrl: db.databaseUrl }));
    const [a, b] = await Promise.all(loaders);
    try {
      await a!.ensureSchema();
      const outcomes = new Map<string, number>();
      for (let trial = 0; trial < 24; trial++) {
        await db.query("TRUNCATE transactions, transaction_items, loads, load_sales, branches, products, file_outcomes, warehouse_identity");
        const order = trial % 2 ? [versions[1]!, versions[0]!] : [versions[0]!, versions[1]!];
        const results = await Promise.all(
          [a!, b!].map(async (w, i) => {
            await new Promise((r) => setTimeout(r, Math.random() * 20));
            return loadManifests({ transformed, warehouse: w }, [order[i]!]);
          }),
        );
        for (const [r] of results) {
          assert.ok(r!.ok, r!.error);
          outcomes.set(r!.result!.outcome, (outcomes.get(r!.result!.outcome) ?? 0) + 1);
        }
        const [state] = await db.query<{ sales: number; current: number; items_orphan: number }>(
          `SELECT (SELECT COUNT(*)::int FROM transactions) AS sales,
             (SELECT COUNT(*)::int FROM loads WHERE superseded_by IS NULL) AS current,
             (SELECT COUNT(*)::int FROM transaction_items i WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.transaction_id = i.transaction_id)) AS items_orphan`,
        );
        assert.equal(state, { sales: 200, current: 1, items_orphan: 0 }, `trial ${trial}: v2's 200 sales stay`);
      }
      // Both arrival orders happened: v1 first (then superseded by v2) and v1 last (superseded on arrival).
      assert.ok((outcomes.get("superseded") ?? 0) > 0, JSON.stringify([...outcomes]));
    } finally {
      await a!.close();
      await b!.close();
      await db.drop();
      await dir.remove();
    }
  });

  test("one identity per warehouse: a second home with another key is refused, says how to give the right key, loads nothing", async () => {
    const db = await createDatabase();
    try {
      const first = await ingest(join(work.path, "home-key-a"), db.databaseUrl, files.slice(0, 3));
      assert.is(first.status, 0, first.stdout + first.stderr);
      const before = await db.query(FIGURES);
      const recorded = (await db.query<{ key_fingerprint: string }>("SELECT key_fingerprint FROM warehouse_identity"))[0]!.key_fingerprint;
      assert.not.ok(recorded.includes(KEY) || KEY.includes(recorded), "the fingerprint, never the key");

      // No key given: the other home makes its own, and every file is refused.
      const other = await ingest(join(work.path, "home-key-b"), db.databaseUrl, files, { COFFEETL_TRANSACTION_KEY: "" });
      assert.is(other.status, 1, other.stdout);
      assert.is((other.stdout.match(/✘/g) ?? []).length, files.length);
      assert.match(other.stdout, new RegExp(`keyed with the transaction-id key of fingerprint ${recorded}`));
      assert.match(other.stdout, /set COFFEETL_TRANSACTION_KEY to the key, or pass --key-file FILE/);
      assert.equal(await db.query(FIGURES), before, "nothing loaded");
      const failed = await db.query<{ n: number }>("SELECT COUNT(*)::int AS n FROM file_outcomes WHERE outcome = 'failed' AND stage = 'load'");
      assert.is(failed[0]!.n, files.length, "each refusal recorded");

      // The same home given the warehouse's key through a key file: the home refuses to change key
      // silently and says how; done as it says, the home loads with the warehouse's key.
      const keyFile = join(work.path, "warehouse.key");
      await writeFile(keyFile, KEY + "\n", { mode: 0o600 });
      const homeB = join(work.path, "home-key-b");
      const refused = await ingest(homeB, db.databaseUrl, files.slice(0, 3), { COFFEETL_TRANSACTION_KEY: "", COFFEETL_KEY_FILE: keyFile });
      assert.is(refused.status, 1);
      assert.match(refused.stderr, /holds another key .* delete .*key\.fingerprint and .*transaction-id\.key and run again/);
      await rm(join(homeB, "key.fingerprint"));
      await rm(join(homeB, "transaction-id.key"));
      const fixed = await ingest(join(work.path, "home-key-b"), db.databaseUrl, files.slice(0, 3), {
        COFFEETL_TRANSACTION_KEY: "",
        COFFEETL_KEY_FILE: keyFile,
      });
      assert.is(fixed.status, 0, fixed.stdout + fixed.stderr);
      assert.is(transactionsNew(fixed), 0, "the same sales: the same ids");
      assert.equal(await db.query(FIGURES), before);
    } finally {
      await db.drop();
    }
  });
}

test.run();
