// Pipeline and load semantics, run against each PostgreSQL backend (embedded PGlite, a server).
import { cp, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Test } from "uvu";
import * as assert from "uvu/assert";
import { loadManifest } from "../functions/app/load-manifest.js";
import { transformObject } from "../functions/app/transform-object.js";
import { expandPaths, openLocalPipeline, type FileReport, type LocalPipeline } from "../functions/local/pipeline.js";
import { FIXTURES, SHARED_SAMPLES, assertNoPii, tempDir, transformText } from "./helpers.js";

export interface Backend {
  /** Options for openLocalPipeline besides `home`; a fresh, empty warehouse each call. */
  connection(): Promise<{ databaseUrl?: string; cleanup?: () => Promise<void> }>;
}

const byName = (reports: FileReport[]) => Object.fromEntries(reports.map((r) => [r.key.split("/").pop()!, r]));

interface Figures {
  sales: number;
  revenue: string;
  units: number;
  items_value: string;
  branches: number;
  products: number;
  loads: number;
}

async function figures(local: LocalPipeline): Promise<Figures> {
  const [row] = await local.warehouse.query<Figures>(`
    SELECT (SELECT COUNT(*) FROM transactions) AS sales,
           (SELECT SUM(total_amount) FROM transactions) AS revenue,
           (SELECT SUM(quantity) FROM transaction_items) AS units,
           (SELECT SUM(unit_price * quantity) FROM transaction_items) AS items_value,
           (SELECT COUNT(*) FROM branches) AS branches,
           (SELECT COUNT(*) FROM products) AS products,
           (SELECT COUNT(*) FROM loads) AS loads`);
  return { ...row!, revenue: String(row!.revenue), items_value: String(row!.items_value) };
}

async function dumpAll(local: LocalPipeline): Promise<string> {
  const parts: string[] = [];
  for (const table of ["branches", "products", "transactions", "transaction_items", "loads"]) {
    parts.push(JSON.stringify(await local.warehouse.query(`SELECT * FROM ${table}`)));
  }
  return parts.join("\n");
}

async function readTree(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const texts = await Promise.all(entries.filter((e) => e.isFile()).map((e) => readFile(join(e.parentPath, e.name), "utf8")));
  return texts.join("\n");
}

export function warehouseSuite(test: Test, backend: Backend): void {
  const session = async <T>(work: (local: LocalPipeline, home: string) => Promise<T>): Promise<T> => {
    const home = await tempDir();
    const { cleanup, ...connection } = await backend.connection();
    const local = await openLocalPipeline({ home: home.path, ...connection });
    try {
      return await work(local, home.path);
    } finally {
      await local.close();
      await cleanup?.();
      await home.remove();
    }
  };

  test("ingest of every variant: good files load, bad rows are recorded, unreadable files fail alone", () =>
    session(async (local, home) => {
      const reports = byName(await local.ingest([FIXTURES]));
      assert.equal(Object.keys(reports).sort(), [
        "broken_rows.csv", "canonical.csv", "excel_resaved.csv", "header_bom.csv", "legacy_crlf.csv", "not_csv.csv", "padded.csv", "prose.csv",
      ]);
      const pick = (r: FileReport) => [r.ok, r.rowsRead, r.salesNew, r.duplicates, r.rejected, r.warnings];
      assert.equal(pick(reports["canonical.csv"]!), [true, 5, 5, 0, 0, 0]);
      assert.equal(pick(reports["legacy_crlf.csv"]!), [true, 3, 3, 0, 0, 0]);
      assert.equal(pick(reports["header_bom.csv"]!), [true, 2, 2, 0, 0, 0]);
      assert.equal(pick(reports["padded.csv"]!), [true, 2, 0, 2, 0, 0]);
      assert.equal(pick(reports["excel_resaved.csv"]!), [true, 3, 1, 2, 0, 0]);
      assert.equal(pick(reports["broken_rows.csv"]!), [true, 8, 3, 0, 5, 1]);
      assert.equal(reports["not_csv.csv"]!.ok, false);
      assert.match(reports["not_csv.csv"]!.error!, /binary content/);
      assert.match(reports["prose.csv"]!.error!, /no readable sales/);

      const f = await figures(local);
      assert.equal([f.sales, f.branches, f.loads], [14, 2, 6]);
      // The one sale whose total differs from its items is the only gap between the two sums.
      const [gap] = await local.warehouse.query<{ n: number }>(`
        SELECT COUNT(*) AS n FROM transactions t
        JOIN (SELECT transaction_id, SUM(unit_price * quantity) AS v FROM transaction_items GROUP BY transaction_id) i
          ON i.transaction_id = t.transaction_id
        WHERE i.v <> t.total_amount`);
      assert.is(Number(gap!.n), 1);
      // Referential integrity holds although the warehouse may not enforce it (Redshift).
      const [orphans] = await local.warehouse.query<{ n: number }>(`
        SELECT (SELECT COUNT(*) FROM transaction_items i WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.transaction_id = i.transaction_id))
             + (SELECT COUNT(*) FROM transaction_items i WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.product_id = i.product_id))
             + (SELECT COUNT(*) FROM transactions t WHERE NOT EXISTS (SELECT 1 FROM branches b WHERE b.branch_id = t.branch_id)) AS n`);
      assert.is(Number(orphans!.n), 0);

      // Rejected rows are recorded with line and reason; failures are recorded beside them.
      const transformedTree = await readTree(join(home, "transformed"));
      assert.match(transformedTree, /line_number,reason\n2,"expected 7 columns, found 6"\n/);
      assert.match(transformedTree, /"reason": "binary content/);
      // Raw files are kept as uploaded.
      const raw = await readFile(local.raw.path((await expandPaths([join(FIXTURES, "canonical.csv")]))[0]!.key));
      assert.equal(raw, await readFile(join(FIXTURES, "canonical.csv")));
      // No personal data outside the raw folder: transformed files and every table.
      assertNoPii(transformedTree, "transformed folder");
      assertNoPii(await dumpAll(local), "warehouse tables");
    }));

  test("ingesting the same files again changes nothing", () =>
    session(async (local) => {
      await local.ingest([FIXTURES]);
      const before = await figures(local);
      const again = await local.ingest([FIXTURES]);
      assert.equal(await figures(local), before);
      assert.ok(again.filter((r) => r.ok).every((r) => r.salesNew === 0));
      // Loading the very same manifest once more is acknowledged without a change.
      const manifestKey = `${again.find((r) => r.key.endsWith("/canonical.csv"))!.prefix}/manifest.json`;
      const result = await loadManifest({ transformed: local.transformed, warehouse: local.warehouse }, manifestKey);
      assert.is(result.loaded, false);
      assert.equal(await figures(local), before);
    }));

  test("a corrected re-upload adds only the sales that were fixed", () =>
    session(async (local, home) => {
      const folder = join(home, "upload");
      await cp(join(FIXTURES, "broken_rows.csv"), join(folder, "kendal.csv"));
      const [first] = await local.ingest([join(folder, "kendal.csv")]);
      assert.equal([first!.salesNew, first!.rejected], [3, 5]);
      const fixed = (await readFile(join(FIXTURES, "broken_rows.csv"), "utf8"))
        .replace("Regular Latte - 2.15,2.15,CARD\n", "Regular Latte - 2.15,2.15,CARD,\n")
        .replace("31/02/2024", "02/03/2024")
        .replace("two pounds", "2.15")
        .replace("CHEQUE", "CASH")
        .replace(",,2.15,CASH,", ",Regular Latte - 2.15,2.15,CASH,");
      await writeFile(join(folder, "kendal.csv"), fixed);
      const [second] = await local.ingest([join(folder, "kendal.csv")]);
      assert.equal([second!.ok, second!.rowsRead, second!.salesNew, second!.duplicates, second!.rejected], [true, 8, 5, 3, 0]);
      assert.is((await figures(local)).sales, 8);
    }));

  test("a sale repeated further apart than the dedupe window is still loaded once and counted", () =>
    session(async (local) => {
      const content = await readFile(join(FIXTURES, "canonical.csv"), "utf8");
      await local.raw.put("raw/twice.csv", content + content);
      const deps = { raw: local.raw, transformed: local.transformed, secret: "s", dedupeWindow: 2 };
      const { manifest, manifestKey } = await transformObject(deps, "raw/twice.csv");
      assert.equal([manifest.rows.transactions, manifest.duplicatesInFile], [10, 0]);
      const load = await loadManifest({ transformed: local.transformed, warehouse: local.warehouse }, manifestKey);
      assert.equal([load.transactionsNew, load.transactionsDuplicate], [5, 5]);
      const f = await figures(local);
      assert.equal([f.sales, f.revenue], [5, f.items_value]);
      const [items] = await local.warehouse.query<{ n: number }>("SELECT COUNT(*) AS n FROM transaction_items");
      const once = await transformText(content);
      assert.is(Number(items!.n), once.summary.rows.transaction_items);
    }));

  if (!SHARED_SAMPLES) {
    console.log("[skip] real sample files: ../shared/samples not found (set COFFEETL_SAMPLES to run them)");
    return;
  }
  test("the real sample files give the known figures, and again after a second ingest", () =>
    session(async (local) => {
      const reports = await local.ingest([SHARED_SAMPLES!]);
      assert.ok(reports.every((r) => r.ok), JSON.stringify(reports.filter((r) => !r.ok)));
      const padded = reports.find((r) => r.key.includes("space_padded_fields"))!;
      assert.equal([padded.salesNew, padded.duplicates], [0, 268]);
      const expected = { sales: 2479, revenue: "14692.95", units: 7001, items_value: "14692.95", branches: 5, products: 81, loads: 8 };
      assert.equal(await figures(local), expected);
      await local.ingest([SHARED_SAMPLES!]);
      assert.equal(await figures(local), expected);
      const names = await local.warehouse.query<{ branch_name: string }>("SELECT branch_name FROM branches ORDER BY 1");
      assert.equal(names.map((b) => b.branch_name), ["Chesterfield", "Isle of Wight", "Leeds", "London Brixton", "Newcastle upon Tyne"]);
    }));
}
