// The same pipeline and load semantics on a PostgreSQL server, through --database-url.
// .ci/run starts one (scripts/start-postgres.sh) and sets COFFEETL_TEST_DATABASE_URL.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fixture, runCoffeetlSync, tempDir } from "./helpers.js";
import { warehouseSuite } from "./warehouse-suite.js";

const adminUrl = process.env.COFFEETL_TEST_DATABASE_URL;

if (!adminUrl) {
  console.log("[skip] PostgreSQL server tests: COFFEETL_TEST_DATABASE_URL is not set (run scripts/start-postgres.sh)");
  test.skip("pipeline on a PostgreSQL server", () => {});
} else {
  test("the server is PostgreSQL 15 or newer", async () => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    const { rows } = await client.query<{ server_version_num: string }>("SHOW server_version_num");
    await client.end();
    assert.ok(Number(rows[0]!.server_version_num) >= 150000);
  });
  const freshDatabase = async () => {
    const name = `coffeetl_test_${randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return {
      databaseUrl: url.toString(),
      async cleanup() {
        const c = new pg.Client({ connectionString: adminUrl });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.end();
      },
    };
  };

  test("coffeetl --database-url ingests into and queries the server", async () => {
    const db = await freshDatabase();
    const home = await tempDir();
    try {
      const cli = (...args: string[]) => runCoffeetlSync([...args, "--home", home.path, "--database-url", db.databaseUrl]);
      const ingest = cli("ingest", fixture("canonical.csv"), fixture("legacy_crlf.csv"));
      assert.is(ingest.status, 0, ingest.stdout + ingest.stderr);
      const sql = cli("sql", "SELECT COUNT(*) AS n, SUM(total_amount) AS revenue FROM transactions", "--json");
      assert.equal(JSON.parse(sql.stdout), [{ n: 8, revenue: "34.65" }]);
    } finally {
      await home.remove();
      await db.cleanup();
    }
  });

  warehouseSuite(test, { connection: freshDatabase });
}

test.run();
