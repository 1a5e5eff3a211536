// The dashboards on a young server warehouse (issue 22): every Sales and Pipeline health query, run
// one second after a 1,000,000-sale load into an empty PostgreSQL database, timed one by one.
// Twice: as the loader leaves the warehouse (it analyzes after a load that finds tables without
// statistics), and with every statistic wiped (a young Redshift, where nothing analyzes for us).
// Run by `npm run bench` when COFFEETL_BENCH_DATABASE_URL is set (alone:
// `node --import tsx bench/dashboards-bench.ts`). COFFEETL_BENCH_DASHBOARD_SALES changes the size.
import { createWriteStream, existsSync, readdirSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { loadManifests } from "../functions/app/load-manifests.js";
import { transformObject } from "../functions/app/transform-object.js";
import { SAMPLE_BRANCHES, generateSample } from "../functions/core/sample.js";
import { FolderStorage } from "../functions/local/folder-storage.js";
import { PostgresWarehouse } from "../functions/local/postgres-warehouse.js";
import { readDashboards } from "../grafana/lib/model.js";
import { runDashboard, type QueryRunner } from "../grafana/lib/run.js";

const ROOT = new URL("..", import.meta.url).pathname;
const serverUrl = process.env.COFFEETL_BENCH_DATABASE_URL;
const SALES = Number(process.env.COFFEETL_BENCH_DASHBOARD_SALES ?? 1_000_000);
const DAYS = 30;
const SECRET = "bench-dashboards-secret-0123456789";
/** Grafana would give up long before; so does the bench. */
const TIMEOUT_MS = 60_000;

if (!serverUrl) {
  console.log("dashboards bench: skipped (set COFFEETL_BENCH_DATABASE_URL to a PostgreSQL server)");
  process.exit(0);
}

const branches = Object.keys(SAMPLE_BRANCHES);
const perFile = Math.ceil(SALES / (branches.length * DAYS));
const data = join(ROOT, `bench/.data/dashboards-${perFile}`);
await mkdir(join(data, "raw"), { recursive: true });
const raw = new FolderStorage(join(data, "store", "raw"));
const transformed = new FolderStorage(join(data, "store", "transformed"));
const manifests: string[] = [];
let sales = 0;
const started = Date.now();
for (let d = 0; d < DAYS; d++) {
  const day = new Date(Date.UTC(2024, 2, 1 + d)).toISOString().slice(0, 10);
  for (const branch of branches) {
    const key = `${branch.replace(/\W+/g, "_").toLowerCase()}_${day}.csv`;
    const path = join(data, "raw", key);
    if (!existsSync(path)) await pipeline(generateSample({ rows: perFile, seed: `dash-${d}`, branch, date: day }), createWriteStream(path));
    // Transformed once, kept in bench/.data: later runs only load.
    const stem = key.replace(/\.csv$/, "");
    const keptDir = join(data, "store", "transformed", stem);
    const kept = existsSync(keptDir) ? readdirSync(keptDir).find((v) => existsSync(join(keptDir, v, "manifest.json"))) : undefined;
    if (kept) {
      manifests.push(`${stem}/${kept}/manifest.json`);
      sales += (JSON.parse(await readFile(join(keptDir, kept, "manifest.json"), "utf8")) as { rows: { transactions: number } }).rows.transactions;
      continue;
    }
    await raw.put(key, await readFile(path, "utf8"));
    const outcome = await transformObject({ raw, transformed, transactionIdKey: SECRET }, key);
    if (outcome.status === "refused") throw new Error(outcome.failure.reason);
    manifests.push(outcome.manifestKey);
    sales += outcome.manifest.rows.transactions;
  }
}
console.log(
  `\nDashboards on a young warehouse (${new URL(serverUrl).host}): ${sales.toLocaleString("en-GB")} sales in ${manifests.length} files, transformed in ${((Date.now() - started) / 1000).toFixed(0)} s`,
);

const name = `coffeetl_dbench_${process.pid}`;
const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const url = new URL(serverUrl);
url.pathname = `/${name}`;
try {
  const warehouse = await PostgresWarehouse.open({ databaseUrl: url.toString() });
  await warehouse.ensureSchema();
  const loadStart = Date.now();
  const outcomes = await loadManifests({ transformed, warehouse }, manifests, { maxBatch: manifests.length });
  if (outcomes.some((o) => !o.ok)) throw new Error(`load failed: ${outcomes.find((o) => !o.ok)?.error}`);
  console.log(`loaded in ${((Date.now() - loadStart) / 1000).toFixed(1)} s (the loader's ANALYZE included); the queries start now`);
  await warehouse.close();

  const timed = async (label: string) => {
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    await client.query(`SET statement_timeout = ${TIMEOUT_MS}`);
    const timings: { query: string; ms: number; error?: string }[] = [];
    const db: QueryRunner = {
      async query<T>(sql: string): Promise<T[]> {
        const t0 = process.hrtime.bigint();
        const query = sql.replace(/\s+/g, " ").slice(0, 60);
        try {
          const rows = (await client.query(sql)).rows as T[];
          timings.push({ query, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
          return rows;
        } catch (error) {
          timings.push({ query, ms: Number(process.hrtime.bigint() - t0) / 1e6, error: (error as Error).message });
          throw error;
        }
      },
    };
    for (const f of readDashboards()) await runDashboard(f.dashboard!, db);
    await client.end();
    const slowest = [...timings].sort((a, b) => b.ms - a.ms);
    const failed = timings.filter((t) => t.error);
    console.log(
      `${label}: ${timings.length} queries in ${(timings.reduce((n, t) => n + t.ms, 0) / 1000).toFixed(1)} s; slowest ${slowest
        .slice(0, 3)
        .map((t) => `${(t.ms / 1000).toFixed(2)} s (${t.query}…)`)
        .join(", ")}${failed.length ? `; FAILED: ${failed.map((f) => `${f.query}…: ${f.error}`).join("; ")}` : ""}`,
    );
  };
  await timed("  as loaded (statistics from the loader's ANALYZE)");
  // A young Redshift: no statistics at all (the planner sees only the tables' sizes).
  await admin.query(`SELECT 1`);
  const wipe = new pg.Client({ connectionString: url.toString() });
  await wipe.connect();
  await wipe.query("DELETE FROM pg_statistic WHERE starelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)");
  await wipe.query("UPDATE pg_class SET reltuples = -1, relpages = 0 WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'i')");
  await wipe.end();
  await timed("  no statistics at all (a young Redshift's planner)");
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
