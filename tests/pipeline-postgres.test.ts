// The same pipeline and load semantics on a PostgreSQL server, through --database-url.
// .ci/run starts one (scripts/start-postgres.sh) and sets COFFEETL_TEST_DATABASE_URL.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { test } from "uvu";
import * as assert from "uvu/assert";
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
  warehouseSuite(test, {
    async connection() {
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
    },
  });
}

test.run();
