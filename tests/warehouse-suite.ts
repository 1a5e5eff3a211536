// Pipeline and load semantics, run against each PostgreSQL backend (embedded PGlite, a server).
import { cp, mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Test } from "uvu";
import * as assert from "uvu/assert";
import { loadManifest, loadManifests } from "../functions/app/load-manifests.js";
import { expandPaths, openLocalPipeline, type FileReport, type LocalPipeline } from "../functions/local/pipeline.js";
import { FIXTURES, SHARED_SAMPLES, assertNoPii, tempDir, transformObject, transformText } from "./helpers.js";

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
        "broken_rows.csv",
        "canonical.csv",
        "excel_resaved.csv",
        "header_bom.csv",
        "legacy_crlf.csv",
        "not_csv.csv",
        "padded.csv",
        "prose.csv",
      ]);
      const pick = (r: FileReport) => [r.ok, r.rowsRead, r.transactionsNew, r.duplicates, r.rejected, r.warnings];
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
      assert.ok(again.filter((r) => r.ok).every((r) => r.transactionsNew === 0));
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
      assert.equal([first!.transactionsNew, first!.rejected], [3, 5]);
      const fixed = (await readFile(join(FIXTURES, "broken_rows.csv"), "utf8"))
        .replace("Regular Latte - 2.15,2.15,CARD\n", "Regular Latte - 2.15,2.15,CARD,\n")
        .replace("31/02/2024", "02/03/2024")
        .replace("two pounds", "2.15")
        .replace("CHEQUE", "CASH")
        .replace(",,2.15,CASH,", ",Regular Latte - 2.15,2.15,CASH,");
      await writeFile(join(folder, "kendal.csv"), fixed);
      const [second] = await local.ingest([join(folder, "kendal.csv")]);
      assert.equal([second!.ok, second!.rowsRead, second!.transactionsNew, second!.duplicates, second!.rejected], [true, 8, 5, 3, 0]);
      assert.is((await figures(local)).sales, 8);
    }));

  test("identical lines further apart than the occurrence window share an id: the load keeps one and counts it", () =>
    session(async (local) => {
      const content = await readFile(join(FIXTURES, "canonical.csv"), "utf8");
      await local.raw.put("raw/twice.csv", content + content);
      const deps = { raw: local.raw, transformed: local.transformed, transactionIdKey: "s", occurrenceWindow: 2 };
      const { manifest, manifestKey } = await transformObject(deps, "raw/twice.csv");
      assert.is(manifest.rows.transactions, 10);
      const load = await loadManifest({ transformed: local.transformed, warehouse: local.warehouse }, manifestKey);
      assert.equal([load.transactionsNew, load.transactionsDuplicate], [5, 5]);
      const f = await figures(local);
      assert.equal([f.sales, f.revenue], [5, f.items_value]);
      const [items] = await local.warehouse.query<{ n: number }>("SELECT COUNT(*) AS n FROM transaction_items");
      const once = await transformText(content);
      assert.is(Number(items!.n), once.summary.rows.transaction_items);
    }));

  test("a corrected re-upload supersedes: one sale's payment method changed keeps the count and corrects it; the original restores it", () =>
    session(async (local, home) => {
      const source = SHARED_SAMPLES ? join(SHARED_SAMPLES, "canonical_2021/chesterfield_25-08-2021_09-00-00.csv") : join(FIXTURES, "canonical.csv");
      const original = await readFile(source, "utf8");
      const lines = original.split(/(?<=\n)/);
      const at = lines.findIndex((l) => /,CASH,/.test(l));
      const corrected = [...lines];
      corrected[at] = lines[at]!.replace(",CASH,", ",CARD,");
      const folder = join(home, "upload");
      await mkdir(folder, { recursive: true });
      const path = join(folder, "day.csv");
      const payments = () =>
        local.warehouse.query<{ payment_method: string; n: number }>(
          "SELECT payment_method, COUNT(*) AS n FROM transactions GROUP BY payment_method ORDER BY 1",
        );

      await writeFile(path, original);
      const [first] = await local.ingest([path]);
      const before = await figures(local);
      const paidBefore = await payments();
      assert.is(first!.transactionsNew, before.sales);

      await writeFile(path, corrected.join(""));
      const [second] = await local.ingest([path]);
      assert.equal([second!.ok, second!.transactionsNew, second!.duplicates], [true, 1, first!.transactionsNew - 1]);

      const after = await figures(local);
      assert.is(after.sales, before.sales, "the wrong sale replaced, not kept beside the corrected one");
      const paidAfter = await payments();
      const n = (rows: typeof paidBefore, m: string) => Number(rows.find((r) => r.payment_method === m)?.n ?? 0);
      assert.equal([n(paidAfter, "CASH"), n(paidAfter, "CARD")], [n(paidBefore, "CASH") - 1, n(paidBefore, "CARD") + 1]);
      const [orphans] = await local.warehouse.query<{ n: number }>(
        "SELECT COUNT(*) AS n FROM transaction_items i WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.transaction_id = i.transaction_id)",
      );
      assert.is(Number(orphans!.n), 0, "the replaced sale's items went with it");
      // Both versions are in loads: the first replaced by the second.
      const loads = await local.warehouse.query<{ load_id: string; superseded_by: string | null }>("SELECT load_id, superseded_by FROM loads");
      assert.is(loads.length, 2);
      const replaced = loads.find((l) => l.superseded_by !== null)!;
      const current = loads.find((l) => l.superseded_by === null)!;
      assert.equal([replaced.load_id, replaced.superseded_by], [second!.supersededLoadId, current.load_id]);

      // The original again: restored, the corrected version now the one replaced.
      await writeFile(path, original);
      const [third] = await local.ingest([path]);
      assert.equal([third!.ok, third!.transactionsNew], [true, 1]);
      assert.equal(await payments(), paidBefore);
      assert.equal(await figures(local), { ...before, loads: 2 });
      const outcomes = await local.warehouse.query<{ outcome: string }>("SELECT outcome FROM file_outcomes ORDER BY recorded_at, outcome");
      assert.equal(
        outcomes.map((o) => o.outcome),
        ["loaded", "loaded", "superseded", "loaded", "superseded"],
      );
    }));

  test("superseding keeps the sales another file also holds", () =>
    session(async (local, home) => {
      const content = await readFile(join(FIXTURES, "canonical.csv"), "utf8");
      const lines = content.split(/(?<=\n)/);
      const folder = join(home, "upload");
      await mkdir(folder, { recursive: true });
      await writeFile(join(folder, "a.csv"), content);
      await writeFile(join(folder, "b.csv"), lines.slice(0, 2).join("")); // the first two sales again
      await local.ingest([join(folder, "a.csv"), join(folder, "b.csv")]);
      assert.is((await figures(local)).sales, 5);
      // a.csv again without its first three sales: the two b.csv holds stay, the third goes.
      await writeFile(join(folder, "a.csv"), lines.slice(3).join(""));
      const [again] = await local.ingest([join(folder, "a.csv")]);
      assert.equal([again!.transactionsNew, again!.duplicates], [0, 2]);
      assert.is((await figures(local)).sales, 4);
      // Every sale is held by the current load of its source_key, and every item by a sale.
      const strays = async () =>
        (
          await local.warehouse.query<{ sales: number; items: number }>(
            `SELECT (SELECT COUNT(*) FROM transactions t WHERE NOT EXISTS (SELECT 1 FROM loads l WHERE l.source_key = t.source_key AND l.superseded_by IS NULL)) AS sales,
             (SELECT COUNT(*) FROM transaction_items i WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.transaction_id = i.transaction_id)) AS items`,
          )
        )[0];
      assert.equal(await strays(), { sales: 0, items: 0 });
      // b.csv again holding only a's fourth sale: the two only it held now go; the fourth stays a's.
      await writeFile(join(folder, "b.csv"), lines[3]!);
      const [b2] = await local.ingest([join(folder, "b.csv")]);
      assert.equal([b2!.transactionsNew, b2!.duplicates], [0, 1]);
      assert.is((await figures(local)).sales, 2);
      assert.equal(await strays(), { sales: 0, items: 0 });
      // The original a.csv restores its first three; then a without them again leaves b's fourth.
      await writeFile(join(folder, "a.csv"), content);
      const [a3] = await local.ingest([join(folder, "a.csv")]);
      assert.equal([a3!.transactionsNew, a3!.duplicates], [3, 2]);
      assert.is((await figures(local)).sales, 5);
      await writeFile(join(folder, "a.csv"), lines.slice(4).join(""));
      await local.ingest([join(folder, "a.csv")]);
      assert.is((await figures(local)).sales, 2, "a's fifth sale and the fourth, which b holds");
      assert.equal(await strays(), { sales: 0, items: 0 });
    }));

  test("one batch: a sale held by two of its files is new for the first only; a broken file fails alone", () =>
    session(async (local, home) => {
      const content = await readFile(join(FIXTURES, "canonical.csv"), "utf8");
      const folder = join(home, "upload");
      await mkdir(folder, { recursive: true });
      await writeFile(join(folder, "a.csv"), content);
      await writeFile(
        join(folder, "b.csv"),
        content
          .split(/(?<=\n)/)
          .slice(0, 2)
          .join(""),
      );
      await writeFile(join(folder, "c.csv"), await readFile(join(FIXTURES, "legacy_crlf.csv")));
      const outcomes = [];
      for (const n of ["a", "b", "c"]) {
        await local.raw.put(`up/${n}.csv`, await readFile(join(folder, `${n}.csv`), "utf8"));
        outcomes.push(await transformObject({ raw: local.raw, transformed: local.transformed, transactionIdKey: "batch-secret" }, `up/${n}.csv`));
      }
      // c's sales file damaged after the transform: its COPY fails, so its batch does.
      const broken = local.transformed.path(`${outcomes[2]!.prefix}/transactions.csv`);
      await writeFile(broken, (await readFile(broken, "utf8")).replace(/\d{4}-\d{2}-\d{2} /, "not-a-date "));
      const deps = { transformed: local.transformed, warehouse: local.warehouse };
      const results = await loadManifests(
        deps,
        outcomes.map((o) => o.manifestKey),
      );
      assert.equal(
        results.map((r) => r.ok),
        [true, true, false],
      );
      assert.equal(
        results.slice(0, 2).map((r) => [r.result!.transactionsNew, r.result!.transactionsDuplicate]),
        [
          [5, 0],
          [0, 2],
        ],
      );
      assert.match(results[2]!.error!, /timestamp|date/i);
      assert.is((await figures(local)).sales, 5);
      const failed = await local.warehouse.query<{ source_key: string; stage: string; reason: string }>(
        "SELECT source_key, stage, reason FROM file_outcomes WHERE outcome = 'failed'",
      );
      assert.equal(
        failed.map((f) => [f.source_key, f.stage]),
        [["up/c.csv", "load"]],
      );
      // Loaded again: the two report already loaded and change nothing.
      const again = await loadManifests(
        deps,
        outcomes.slice(0, 2).map((o) => o.manifestKey),
      );
      assert.equal(
        again.map((r) => r.result!.outcome),
        ["already_loaded", "already_loaded"],
      );
      assert.is((await figures(local)).sales, 5);
    }));

  if (!SHARED_SAMPLES) {
    console.log("[skip] real sample files: ../shared/samples not found (set COFFEETL_SAMPLES to run them)");
    return;
  }
  test("the real sample files give the known figures, and again after a second ingest", () =>
    session(async (local) => {
      const reports = await local.ingest([SHARED_SAMPLES!]);
      assert.ok(
        reports.every((r) => r.ok),
        JSON.stringify(reports.filter((r) => !r.ok)),
      );
      const padded = reports.find((r) => r.key.includes("space_padded_fields"))!;
      assert.equal([padded.transactionsNew, padded.duplicates], [0, 268]);
      const expected = { sales: 2479, revenue: "14692.95", units: 7001, items_value: "14692.95", branches: 5, products: 81, loads: 8 };
      assert.equal(await figures(local), expected);
      await local.ingest([SHARED_SAMPLES!]);
      assert.equal(await figures(local), expected);
      const names = await local.warehouse.query<{ branch_name: string }>("SELECT branch_name FROM branches ORDER BY 1");
      assert.equal(
        names.map((b) => b.branch_name),
        ["Chesterfield", "Isle of Wight", "Leeds", "London Brixton", "Newcastle upon Tyne"],
      );
    }));
}
