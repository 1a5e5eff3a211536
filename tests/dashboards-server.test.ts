// Issue 22: the dashboards answer on a young server warehouse. Generated day files are ingested into
// a fresh PostgreSQL database (COFFEETL_TEST_DATABASE_URL, scripts/start-postgres.sh); at once, every
// variable and panel query of every dashboard runs under a 10-second statement timeout. Then again
// with every statistic wiped: a young Redshift's planner knows nothing either, so no query may
// depend on statistics for its plan. Before the fix the league table's cross-joined total ran on
// the inner side of a nested loop and never came back. (Figures for 1,000,000 sales: bench/dashboards-bench.ts.)
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SAMPLE_BRANCHES, generateSample, sampleFileName } from "../functions/core/sample.js";
import { openLocalPipeline } from "../functions/local/pipeline.js";
import { readDashboards } from "../grafana/lib/model.js";
import { runDashboard, type QueryRunner } from "../grafana/lib/run.js";
import { tempDir } from "./helpers.js";

const adminUrl = process.env.COFFEETL_TEST_DATABASE_URL;
const TIMEOUT_MS = 10_000;

if (!adminUrl) {
  console.log("[skip] dashboards on a young server warehouse: COFFEETL_TEST_DATABASE_URL is not set (run scripts/start-postgres.sh)");
} else {
  test("every dashboard query answers within 10 s right after a first load, and with no statistics at all", async () => {
    const name = `coffeetl_dash_${randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const home = await tempDir();
    try {
      const dir = join(home.path, "incoming");
      await mkdir(dir, { recursive: true });
      const branches = Object.keys(SAMPLE_BRANCHES);
      for (let d = 1; d <= 12; d++)
        for (const branch of branches) {
          const date = `2024-03-${String(d).padStart(2, "0")}`;
          await pipeline(
            generateSample({ branch, date, rows: 600, seed: d }),
            createWriteStream(join(dir, sampleFileName(branch, date, SAMPLE_BRANCHES[branch]!.open))),
          );
        }
      const local = await openLocalPipeline({ home: home.path, databaseUrl: url.toString() });
      try {
        const reports = await local.ingest([dir]);
        assert.ok(
          reports.every((r) => r.ok),
          "every file loaded",
        );
      } finally {
        await local.close();
      }

      const runAll = async (label: string) => {
        const client = new pg.Client({ connectionString: url.toString() });
        await client.connect();
        try {
          await client.query(`SET statement_timeout = ${TIMEOUT_MS}`);
          const db: QueryRunner = { query: async <T>(sql: string) => (await client.query(sql)).rows as T[] };
          let panels = 0;
          for (const f of readDashboards()) {
            const run = await runDashboard(f.dashboard!, db);
            assert.equal(run.errors, [], `${label}: ${f.dashboard!.uid}`);
            for (const p of run.panels.filter((x) => x.kind === "sql")) {
              assert.equal(p.errors, [], `${label}: ${p.panel.title} (a statement timeout means over 10 s)`);
              if (!p.panel.fieldConfig?.defaults?.noValue) assert.ok(!p.empty, `${label}: ${p.panel.title} has data`);
              panels++;
            }
          }
          assert.ok(panels >= 20, `${panels} panels ran`);
        } finally {
          await client.end();
        }
      };
      const check = new pg.Client({ connectionString: url.toString() });
      await check.connect();
      try {
        const [stats] = (await check.query("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'transactions'")).rows as {
          last_analyze: Date | null;
        }[];
        assert.ok(stats?.last_analyze, "the loader analyzed the tables it found without statistics");
        await runAll("as loaded");
        // A young Redshift: no statistics at all (the planner sees only the tables' sizes).
        await check.query("DELETE FROM pg_statistic WHERE starelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)");
        await check.query("UPDATE pg_class SET reltuples = -1, relpages = 0 WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'i')");
      } finally {
        await check.end();
      }
      await runAll("no statistics");
    } finally {
      await home.remove();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });
}

test.run();
