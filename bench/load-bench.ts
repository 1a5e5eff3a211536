// The load's figures (issues 10 and 12), run by `npm run bench` when COFFEETL_BENCH_DATABASE_URL
// points at a PostgreSQL server (alone: `node --import tsx bench/load-bench.ts`). Not a test: it
// prints figures. Every measurement gets databases of its own, dropped afterwards.
//   1. one loader's throughput with and without the LOCK (interleaved rounds), and how long a
//      second loader waits behind a first one;
//   2. `ingest` of 153 day files against one file holding the same sales into a new home, open
//      included (PGlite and server), and
//      the burst test's 500 manifests loaded through the batched service;
//   3. a 500-sale day file into an empty, a 1,000,000- and a 5,000,000-sale warehouse;
//   4. a 1,000,000-sale load against psql `\copy` of the same four table files, one transaction.
// COFFEETL_BENCH_LOAD_SKIP=lock,ingest,burst,growth,copy skips parts.
import { execFileSync } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { loadManifests } from "../functions/app/load-manifests.js";
import { transformObject } from "../functions/app/transform-object.js";
import { keyFingerprint } from "../functions/core/keys.js";
import { SAMPLE_BRANCHES, generateSample } from "../functions/core/sample.js";
import { COLUMNS, TABLES } from "../functions/core/schema.js";
import { FolderStorage } from "../functions/local/folder-storage.js";
import { openLocalPipeline } from "../functions/local/pipeline.js";
import { PostgresWarehouse } from "../functions/local/postgres-warehouse.js";
import { POSTGRES_DIALECT, type Dialect } from "../functions/warehouse/literals.js";
import { MANIFESTS_PER_TRANSACTION } from "../functions/core/limits.js";

const ROOT = new URL("..", import.meta.url).pathname;
const DATA = join(ROOT, "bench/.data/load");
const serverUrl = process.env.COFFEETL_BENCH_DATABASE_URL;
const skip = new Set((process.env.COFFEETL_BENCH_LOAD_SKIP ?? "").split(",").filter(Boolean));
const SECRET = "bench-load-secret-0123456789abcdef";
const NO_LOCK: Dialect = { ...POSTGRES_DIALECT, lock: () => "SELECT 1" };

if (!serverUrl) {
  console.log("load bench: skipped (set COFFEETL_BENCH_DATABASE_URL to a PostgreSQL server)");
  process.exit(0);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const seconds = async <T>(work: () => Promise<T>): Promise<[number, T]> => {
  const started = process.hrtime.bigint();
  const result = await work();
  return [Number(process.hrtime.bigint() - started) / 1e9, result];
};
const fmt = (s: number) => `${s.toFixed(2)} s`;
const rate = (n: number, s: number) => `${Math.round(n / s).toLocaleString("en-GB")} sales/s`;

let dbCounter = 0;
async function database(): Promise<{ url: string; drop(): Promise<void>; sql<T = Record<string, unknown>>(q: string): Promise<T[]> }> {
  const name = `coffeetl_lbench_${process.pid}_${++dbCounter}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl!);
  url.pathname = `/${name}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  return {
    url: url.toString(),
    sql: async <T>(q: string) => (await client.query(q)).rows as T[],
    async drop() {
      await client.end();
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Day files of the sample generator: branch × date, about `rows` sales each. */
async function dayFiles(dir: string, count: number, rows?: number): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const branches = Object.keys(SAMPLE_BRANCHES);
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const branch = branches[i % branches.length]!;
    const day = new Date(Date.UTC(2024, 0, 1 + Math.floor(i / branches.length))).toISOString().slice(0, 10);
    const path = join(dir, `${branch.replace(/\W+/g, "_").toLowerCase()}_${day}.csv`);
    if (!existsSync(path)) await pipeline(generateSample({ rows: rows ?? 300, seed: `day-${i}`, branch, date: day }), createWriteStream(path));
    paths.push(path);
  }
  return paths;
}

/** Transforms raw files once into a folder pair; returns their manifest keys and sales. */
async function transformAll(home: string, paths: string[]): Promise<{ transformed: FolderStorage; manifests: string[]; sales: number }> {
  const raw = new FolderStorage(join(home, "raw"));
  const transformed = new FolderStorage(join(home, "transformed"));
  const manifests: string[] = [];
  let sales = 0;
  for (const path of paths) {
    const key = path.split("/").pop()!;
    await raw.put(key, await readFile(path, "utf8"));
    const outcome = await transformObject({ raw, transformed, transactionIdKey: SECRET }, key);
    if (outcome.status === "refused") throw new Error(outcome.failure.reason);
    manifests.push(outcome.manifestKey);
    sales += outcome.manifest.rows.transactions;
  }
  return { transformed, manifests, sales };
}

console.log(`\nLoad benchmark on ${new URL(serverUrl).host} (PostgreSQL server unless named)\n`);

// 1. The lock's cost to one loader, and a second loader's wait.
if (!skip.has("lock")) {
  const files = await dayFiles(join(DATA, "days"), 40);
  const { transformed, manifests, sales } = await transformAll(join(DATA, "lock-home"), files);
  const loadAll = async (dialect: Dialect, maxBatch: number) => {
    const db = await database();
    const warehouse = await PostgresWarehouse.open({ databaseUrl: db.url, dialect });
    await warehouse.ensureSchema();
    const [s] = await seconds(() => loadManifests({ transformed, warehouse }, manifests, { maxBatch }));
    await warehouse.close();
    await db.drop();
    return s;
  };
  const withLock: number[] = [];
  const without: number[] = [];
  for (let round = 0; round < 3; round++) {
    without.push(await loadAll(NO_LOCK, 1));
    withLock.push(await loadAll(POSTGRES_DIALECT, 1));
  }
  console.log(`40 day files (${sales} sales), one manifest per transaction, one loader (median of 3 interleaved rounds):`);
  console.log(
    `  without the LOCK ${fmt(median(without))} (${rate(sales, median(without))}); with it ${fmt(median(withLock))} (${rate(sales, median(withLock))}); rounds ${without.map((s) => s.toFixed(2)).join("/")} vs ${withLock.map((s) => s.toFixed(2)).join("/")}`,
  );

  // A second loader started while a first loads a 100,000-sale file: how long it waits.
  const [big] = await dayFiles(join(DATA, "big"), 1, 100_000);
  const bigT = await transformAll(join(DATA, "big-home"), [big!]);
  const db = await database();
  const a = await PostgresWarehouse.open({ databaseUrl: db.url });
  const b = await PostgresWarehouse.open({ databaseUrl: db.url });
  await a.ensureSchema();
  await b.ensureSchema();
  const [solo] = await seconds(() => loadManifests({ transformed, warehouse: b }, manifests.slice(0, 1)));
  const first = seconds(() => loadManifests({ transformed: bigT.transformed, warehouse: a }, bigT.manifests));
  await new Promise((r) => setTimeout(r, 300));
  const [second] = await seconds(() => loadManifests({ transformed, warehouse: b }, manifests.slice(1, 2)));
  const [firstSeconds] = await first;
  console.log(
    `  a second loader's 300-sale file, started 0.3 s into a first loader's 100,000-sale load (${fmt(firstSeconds)}): ` +
      `${fmt(second)} against ${fmt(solo)} alone, so it waited about ${fmt(Math.max(0, second - solo))}`,
  );
  // Two loaders over the same 40 files at once, against one.
  const db2 = await database();
  const c = await PostgresWarehouse.open({ databaseUrl: db2.url });
  const d = await PostgresWarehouse.open({ databaseUrl: db2.url });
  await c.ensureSchema();
  await d.ensureSchema();
  const [both] = await seconds(() =>
    Promise.all([
      loadManifests({ transformed, warehouse: c }, manifests, { maxBatch: 1 }),
      loadManifests({ transformed, warehouse: d }, manifests, { maxBatch: 1 }),
    ]),
  );
  const [{ n }] = (await db2.sql<{ n: string }>("SELECT COUNT(*) AS n FROM transactions")) as [{ n: string }];
  console.log(`  two loaders over the same 40 files at once: ${fmt(both)} wall (one alone: ${fmt(median(withLock))}); ${n} sales, as one loader's ${sales}`);
  for (const w of [a, b, c, d]) await w.close();
  await db.drop();
  await db2.drop();
}

// 2. A backfill: 153 day files against one file holding the same sales.
if (!skip.has("ingest")) {
  const files = await dayFiles(join(DATA, "days"), 153);
  const onePath = join(DATA, "one-file.csv");
  await writeFile(onePath, (await Promise.all(files.map((f) => readFile(f, "utf8")))).join(""));
  // Homes are removed after all rounds: on this VM's ext4 (mounted with discard) creating files
  // right after deleting a large tree is several times slower, which would tax the next run.
  const homes: string[] = [];
  const ingestInto = async (paths: string[], databaseUrl?: string) => {
    const home = join(DATA, `ingest-home-${Date.now()}`);
    homes.push(home);
    process.env.COFFEETL_TRANSACTION_KEY = SECRET;
    // The open is timed too: a new home's warehouse start is part of what a first ingest costs.
    const [s, [local, reports]] = await seconds(async () => {
      const local = await openLocalPipeline({ home, ...(databaseUrl ? { databaseUrl } : {}) });
      return [local, await local.ingest(paths)] as const;
    });
    const [f] = await local.warehouse.query<{ sales: number; revenue: string }>(
      "SELECT COUNT(*) AS sales, SUM(total_amount)::text AS revenue FROM transactions",
    );
    await local.close();
    if (reports.some((r) => !r.ok)) throw new Error("a bench file failed");
    return { s, figures: `${f!.sales} sales, £${f!.revenue}` };
  };
  for (const backend of ["server", "PGlite"] as const) {
    const many: number[] = [];
    const one: number[] = [];
    let figures = "";
    for (let round = 0; round < 3; round++) {
      const dbs = backend === "server" ? [await database(), await database()] : [];
      const m = await ingestInto(files, dbs[0]?.url);
      const o = await ingestInto([onePath], dbs[1]?.url);
      for (const db of dbs) await db.drop();
      if (m.figures !== o.figures) throw new Error(`figures differ: ${m.figures} vs ${o.figures}`);
      figures = m.figures;
      many.push(m.s);
      one.push(o.s);
    }
    console.log(
      `ingest, ${backend}: 153 day files ${fmt(median(many))}, one file of the same sales ${fmt(median(one))} ` +
        `(${(median(many) / median(one)).toFixed(2)}x; ${figures} both; rounds ${many.map((s) => s.toFixed(1)).join("/")} vs ${one.map((s) => s.toFixed(1)).join("/")})`,
    );
  }
  delete process.env.COFFEETL_TRANSACTION_KEY;
  for (const home of homes) await rm(home, { recursive: true, force: true });
}

// 2b. The morning burst of the burst test, on the server: 500 day files' manifests through the
// batched service, in the load Lambda's batches (MANIFESTS_PER_TRANSACTION manifests per transaction).
if (!skip.has("burst")) {
  const files = await dayFiles(join(DATA, "days"), 500);
  const { transformed, manifests, sales } = await transformAll(join(DATA, "burst-home"), files);
  const db = await database();
  const warehouse = await PostgresWarehouse.open({ databaseUrl: db.url });
  await warehouse.ensureSchema();
  const [s, outcomes] = await seconds(() => loadManifests({ transformed, warehouse }, manifests));
  const [{ n, loads }] = (await db.sql<{ n: string; loads: string }>(
    "SELECT (SELECT COUNT(*) FROM transactions) AS n, (SELECT COUNT(*) FROM loads) AS loads",
  )) as [{ n: string; loads: string }];
  if (outcomes.some((o) => !o.ok) || Number(n) !== sales) throw new Error(`burst: ${n} sales of ${sales}`);
  console.log(
    `burst: 500 day files' manifests (${sales.toLocaleString("en-GB")} sales) in ${Math.ceil(manifests.length / MANIFESTS_PER_TRANSACTION)} transactions of ${MANIFESTS_PER_TRANSACTION}: ` +
      `${fmt(s)} wall (${rate(sales, s)}); ${loads} loads rows`,
  );
  await warehouse.close();
  await db.drop();
}

// 3. One day file into a growing warehouse.
if (!skip.has("growth")) {
  const days = await dayFiles(join(DATA, "growth-days"), 9, 500);
  const { transformed, manifests } = await transformAll(join(DATA, "growth-home"), days);
  const db = await database();
  const warehouse = await PostgresWarehouse.open({ databaseUrl: db.url });
  await warehouse.ensureSchema();
  await db.sql(`INSERT INTO warehouse_identity VALUES ('${keyFingerprint(SECRET)}', now())`);
  let held = 0;
  /** History before 2024 in the shape loads leave it: sales, two items each, membership, one load per 300 sales. */
  const grow = async (to: number) => {
    const from = held + 1;
    await db.sql(`INSERT INTO transactions SELECT md5('s' || i), md5('branch' || (i % 6)), TIMESTAMP '2015-01-01' + i * INTERVAL '30 seconds',
      CASE WHEN i % 3 = 0 THEN 'CASH' ELSE 'CARD' END, 2.15 + (i % 7), 'history/' || (i / 300) || '.csv' FROM generate_series(${from}, ${to}) i`);
    await db.sql(`INSERT INTO transaction_items SELECT md5('s' || i), md5('product' || (i % 80 + k)), 2.15, 1 + k
      FROM generate_series(${from}, ${to}) i CROSS JOIN generate_series(0, 1) k`);
    await db.sql(`INSERT INTO load_sales SELECT md5('s' || i), md5('l' || (i / 300)) || md5('L' || (i / 300)) FROM generate_series(${from}, ${to}) i`);
    await db.sql(`INSERT INTO loads (load_id, source_key, source_sha256, loaded_at, rows_read, transactions_new, transactions_duplicate, rows_rejected, warnings)
      SELECT md5('l' || j) || md5('L' || j), 'history/' || j || '.csv', md5('h' || j) || md5('H' || j), now(), 300, 300, 0, 0, 0
      FROM generate_series(${Math.floor(from / 300) + (from === 1 ? 0 : 1)}, ${Math.floor(to / 300)}) j`);
    held = to;
    await db.sql("VACUUM ANALYZE");
  };
  const times: string[] = [];
  let empty = 0;
  for (const [size, slice] of [
    [0, manifests.slice(0, 3)],
    [1_000_000, manifests.slice(3, 6)],
    [5_000_000, manifests.slice(6, 9)],
  ] as const) {
    if (size > held) {
      const [g] = await seconds(() => grow(size));
      console.log(`  (made a ${size.toLocaleString("en-GB")}-sale history in ${fmt(g)})`);
    }
    const runs: number[] = [];
    for (const key of slice) runs.push((await seconds(() => loadManifests({ transformed, warehouse }, [key])))[0]);
    const m = median(runs) * 1000;
    if (size === 0) empty = m;
    times.push(`${size.toLocaleString("en-GB")}: ${Math.round(m)} ms${size ? ` (${(m / empty).toFixed(2)}x)` : ""}`);
  }
  console.log(`a 500-sale day file into a warehouse holding N sales (median of 3 files): ${times.join("; ")}`);
  await warehouse.close();
  await db.drop();
}

// 4. A 1,000,000-sale load against psql \copy of the same table files.
if (!skip.has("copy")) {
  const [big] = await dayFiles(join(DATA, "million"), 1, 1_000_000);
  const home = join(DATA, "million-home");
  const { transformed, manifests } = await transformAll(home, [big!]);
  const prefix = manifests[0]!.slice(0, -"/manifest.json".length);
  const psql = existsSync("/usr/bin/psql")
    ? "/usr/bin/psql"
    : execFileSync("bash", ["-c", "ls /usr/lib/postgresql/*/bin/psql | tail -n1"], { encoding: "utf8" }).trim();
  const ours: number[] = [];
  const floor: number[] = [];
  for (let round = 0; round < 3; round++) {
    const db = await database();
    const warehouse = await PostgresWarehouse.open({ databaseUrl: db.url });
    await warehouse.ensureSchema();
    const [s, [outcome]] = await seconds(() => loadManifests({ transformed, warehouse }, manifests));
    if (!outcome!.ok) throw new Error(outcome!.error);
    ours.push(s);
    await warehouse.close();
    await db.drop();

    const bare = await database();
    const schema = await PostgresWarehouse.open({ databaseUrl: bare.url });
    await schema.ensureSchema();
    await schema.close();
    const script = [
      "BEGIN;",
      ...TABLES.map((t) => `\\copy ${t} (${COLUMNS[t].join(", ")}) FROM '${transformed.path(`${prefix}/${t}.csv`)}' WITH (FORMAT csv, HEADER true)`),
      "COMMIT;",
    ].join("\n");
    const [c] = await seconds(async () => execFileSync(psql, ["-q", "-v", "ON_ERROR_STOP=1", bare.url], { input: script }));
    floor.push(c);
    await bare.drop();
  }
  console.log(
    `1,000,000 sales into an empty keyed warehouse: our load ${fmt(median(ours))}, psql \\copy of the same four files in one transaction ${fmt(median(floor))} ` +
      `(${(median(ours) / median(floor)).toFixed(2)}x; rounds ${ours.map((s) => s.toFixed(1)).join("/")} vs ${floor.map((s) => s.toFixed(1)).join("/")})`,
  );
}
