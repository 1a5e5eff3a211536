// The embedded warehouse reads PGlite's array types at start unless a command says it runs only the
// project's own statements (ingest, status, rejects: no array columns), which saves the catalog query.
// `coffeetl sql` keeps them: a user's array column prints as an array.
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { PostgresWarehouse } from "../functions/local/postgres-warehouse.js";
import { FIXTURES, runCoffeetlSync, tempDir } from "./helpers.js";

const ARRAY = "SELECT ARRAY[1, 2] AS a, ARRAY['x', 'y'] AS b";

test("array columns are arrays by default, and PGlite's text form when array types are not read", async () => {
  const dir = await tempDir();
  try {
    const withTypes = await PostgresWarehouse.open({ dataDir: join(dir.path, "wh") });
    try {
      assert.equal(await withTypes.query(ARRAY), [{ a: [1, 2], b: ["x", "y"] }]);
    } finally {
      await withTypes.close();
    }
    const without = await PostgresWarehouse.open({ dataDir: join(dir.path, "wh"), arrayTypes: false });
    try {
      assert.equal(await without.query(ARRAY), [{ a: "{1,2}", b: "{x,y}" }]);
      // The project's own statements are unaffected.
      await without.ensureSchema();
      assert.equal(await without.query("SELECT COUNT(*) AS n FROM transactions"), [{ n: 0 }]);
    } finally {
      await without.close();
    }
  } finally {
    await dir.remove();
  }
});

test("after an ingest (which skips array types), sql on the home prints arrays as arrays", async () => {
  const home = await tempDir();
  try {
    const env = { ...process.env, COFFEETL_TRANSACTION_KEY: "array-types-test-key-0123456789" };
    const cli = (...args: string[]) => runCoffeetlSync([...args, "--home", home.path], { env });
    const ingest = cli("ingest", join(FIXTURES, "canonical.csv"));
    assert.is(ingest.status, 0, ingest.stdout + ingest.stderr);
    const sql = cli("sql", "--csv", ARRAY);
    assert.is(sql.status, 0, sql.stderr);
    assert.equal(sql.stdout.trim().split("\r\n"), ["a,b", '"[1,2]","[""x"",""y""]"']);
  } finally {
    await home.remove();
  }
});

test.run();
