// New homes from a template (issue 23): a new home's PGlite data directory is a copy of a template
// made once per machine (initdb and the schema), never a fresh initdb; both engine starts (light for
// a little work, heavy for a lot) load the same. Run alone: node --import tsx tests/local-warehouse-template.test.ts
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { openLocalPipeline } from "../functions/local/pipeline.js";
import { FIXTURES, runCoffeetl, tempDir } from "./helpers.js";

const cache = await tempDir("coffeetl-template-cache-");
process.env.COFFEETL_CACHE_DIR = cache.path;
process.env.COFFEETL_TRANSACTION_KEY = "template-test-key-0123456789abcdef";

/** PostgreSQL's system identifier: initdb draws a new one; a copied data directory keeps its source's. */
const IDENTITY = "SELECT system_identifier::text AS id FROM pg_control_system()";
const FIGURES =
  "SELECT (SELECT COUNT(*) FROM transactions) AS sales, (SELECT SUM(total_amount)::text FROM transactions) AS revenue, (SELECT COUNT(*) FROM transaction_items) AS items";

async function ingestInto(home: string, engine?: "light" | "heavy") {
  const local = await openLocalPipeline({ home, ...(engine ? { engine } : {}) });
  try {
    const reports = await local.ingest([join(FIXTURES, "canonical.csv")]);
    assert.ok(
      reports.every((r) => r.ok),
      JSON.stringify(reports),
    );
    const [{ id }] = (await local.warehouse.query<{ id: string }>(IDENTITY)) as [{ id: string }];
    const [figures] = await local.warehouse.query(FIGURES);
    return { id, figures };
  } finally {
    await local.close();
  }
}

test("new homes are copies of one template: initdb runs once per machine, not per home", async () => {
  const [a, b] = [await tempDir(), await tempDir()];
  try {
    const first = await ingestInto(a.path, "light");
    const templates = readdirSync(cache.path).filter((name) => name.startsWith("warehouse-"));
    assert.is(templates.length, 1, `one template in the cache: ${templates.join(", ")}`);
    const second = await ingestInto(b.path, "heavy");
    // Two initdb runs would give two system identifiers.
    assert.is(second.id, first.id, "the second home's warehouse is the template's copy");
    assert.equal(second.figures, first.figures, "light and heavy starts load the same");
    assert.ok(Number((first.figures as { sales: number }).sales) > 0);
    assert.equal(
      readdirSync(cache.path).filter((name) => name.startsWith("warehouse-")),
      templates,
      "no second template",
    );
  } finally {
    await Promise.all([a.remove(), b.remove()]);
  }
});

test("the CLI's new home starts from the template too, and its schema is whole", async () => {
  const home = await tempDir();
  try {
    const run = await runCoffeetl(["ingest", join(FIXTURES, "canonical.csv"), "--home", home.path]).then(({ status, combined: out }) => ({ status, out }));
    assert.is(run.status, 0, run.out);
    const local = await openLocalPipeline({ home: home.path, engine: "light" });
    try {
      const [{ id }] = (await local.warehouse.query<{ id: string }>(IDENTITY)) as [{ id: string }];
      const reference = await tempDir();
      const other = await ingestInto(reference.path).finally(() => reference.remove());
      assert.is(id, other.id);
      const tables = await local.warehouse.query<{ t: string }>(
        "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
      );
      for (const table of ["branches", "file_outcomes", "load_sales", "loads", "products", "transaction_items", "transactions", "warehouse_identity"]) {
        assert.ok(
          tables.some((r) => r.t === table),
          `${table} in ${tables.map((r) => r.t).join(", ")}`,
        );
      }
    } finally {
      await local.close();
    }
  } finally {
    await home.remove();
  }
});

test("a new home's warehouse holds only the database it uses (template0 and template1 are not copied)", async () => {
  const home = await tempDir();
  try {
    const local = await openLocalPipeline({ home: home.path, engine: "light" });
    try {
      const names = await local.warehouse.query<{ datname: string }>("SELECT datname FROM pg_database ORDER BY 1");
      assert.equal(
        names.map((r) => r.datname),
        ["postgres"],
      );
    } finally {
      await local.close();
    }
    // One database folder under base/ (the template's copy, with the tables in it).
    assert.is(readdirSync(join(home.path, "warehouse", "base")).length, 1);
  } finally {
    await home.remove();
  }
});

test("the CLI's embedded commands load no server driver (pg, pg-copy-streams) nor the AWS SDK", async () => {
  const home = await tempDir();
  try {
    // CommonJS packages imported from ESM are in require.cache: list them as the process exits.
    const preload = join(home.path, "loaded.mjs");
    writeFileSync(
      preload,
      `import { createRequire } from "node:module";\nimport { appendFileSync } from "node:fs";\nconst cache = createRequire(import.meta.url).cache;\n` +
        `process.on("exit", () => appendFileSync(${JSON.stringify(join(home.path, "loaded.txt"))}, Object.keys(cache).join("\\n") + "\\n"));\n`,
    );
    const run = (...args: string[]) =>
      runCoffeetl([...args, "--home", join(home.path, "h")], { nodeArgs: ["--import", preload] }).then(({ status, combined: out }) => ({ status, out }));
    for (const args of [["ingest", join(FIXTURES, "canonical.csv")], ["sql", "select 1"], ["status"]]) {
      const result = await run(...args);
      assert.is(result.status, 0, result.out);
    }
    const loaded = readFileSync(join(home.path, "loaded.txt"), "utf8");
    assert.ok(loaded.includes("proper-lockfile"), "the preload saw the CLI's CommonJS packages");
    for (const unused of ["/node_modules/pg/", "/node_modules/pg-copy-streams/", "/node_modules/@aws-sdk/"])
      assert.not.ok(loaded.includes(unused), `${unused} loaded`);
  } finally {
    await home.remove();
  }
});

test.after(() => cache.remove());
test.run();
