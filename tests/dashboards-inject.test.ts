// Issue 19: branch names cannot break or fake a Sales panel. Redshift reads `\` inside a string
// literal as an escape; PostgreSQL does the same with `standard_conforming_strings = off`, the
// stand-in here. Branches named with `\`, `'`, `"`, `$`, `;` and non-ASCII letters are loaded, then
// every Sales panel is run (All, and each branch alone): figures equal the warehouse's own, no panel
// fails, and only warehouse-made hex ids reach the SQL.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { text } from "node:stream/consumers";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { generateSample } from "../functions/core/sample.js";
import { renderSql } from "../grafana/lib/interpolate.js";
import { allPanels, readDashboards, type Dashboard } from "../grafana/lib/model.js";
import { runDashboard, type DashboardRun } from "../grafana/lib/run.js";
import { openTestWarehouse, type TestWarehouse } from "./fixtures/grafana/warehouse.js";

const NAMES = ["O'Brien\\", "x\\') AND 1=0 UNION ALL SELECT 999999 --", 'Café "Zoë" $branch; ☕', "Leeds"];
const sales = readDashboards().find((f) => f.dashboard?.uid === "coffeetl-sales")!.dashboard!;
const csvField = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

let w: TestWarehouse;
const truth = new Map<string, { n: number; revenue: number }>();

test.before(async () => {
  w = await openTestWarehouse(async (home) => {
    const dir = join(home, "incoming");
    await mkdir(dir, { recursive: true });
    for (const [i, name] of NAMES.entries()) {
      // The generator writes Leeds' day; the branch column is then renamed, quoted as CSV needs.
      const body = (await text(generateSample({ branch: "Leeds", date: `2024-03-0${i + 1}`, rows: 20 + i * 7, seed: i }))).replace(
        /,Leeds,/g,
        `,${csvField(name)},`,
      );
      await writeFile(join(dir, `branch_${i}_0${i + 1}-03-2024_09-00-00.csv`), body);
    }
    return [dir];
  });
  const db = w.pipeline.warehouse;
  for (const r of await db.query<{ name: string; n: string; revenue: string }>(
    "SELECT b.branch_name AS name, COUNT(*) AS n, SUM(t.total_amount) AS revenue FROM transactions t JOIN branches b ON b.branch_id = t.branch_id GROUP BY 1",
  ))
    truth.set(r.name, { n: Number(r.n), revenue: Number(r.revenue) });
  assert.equal([...truth.keys()].sort(), [...NAMES].sort(), "every name loaded as written");
  // Redshift's literal rules from here on.
  await db.query("SET standard_conforming_strings = off");
  await db.query("SET escape_string_warning = off");
});

test.after(async () => {
  await w?.dispose();
});

const panel = (run: DashboardRun, title: string) => run.panels.find((p) => p.panel.title === title)!;
const firstValue = (run: DashboardRun, title: string) => panel(run, title).frames[0]?.fields[0]?.values[0];

test("the stand-in reads `\\` as an escape, and the old name filter breaks or fakes the figures under it", async () => {
  const db = w.pipeline.warehouse;
  assert.equal(await db.query("SELECT 'a\\'b' AS v"), [{ v: "a'b" }], "a backslash escapes the quote, as on Redshift");
  // What the dashboards did before: names through ${branch:sqlstring}.
  const old = "SELECT COUNT(*) AS n FROM transactions t JOIN branches b ON b.branch_id = t.branch_id WHERE b.branch_name IN (${branch:sqlstring})";
  const range = { from: new Date("2024-01-01T00:00:00Z"), to: new Date("2024-12-31T00:00:00Z") };
  const faked = await db.query<{ n: string }>(renderSql(old, new Map([["branch", { values: [NAMES[1]!], multi: true }]]), range));
  assert.ok(
    faked.some((r) => Number(r.n) === 999999),
    `the injected branch shows 999999 sales: ${JSON.stringify(faked)}`,
  );
  let failed = false;
  try {
    await db.query(renderSql(old, new Map([["branch", { values: [NAMES[0]!, "Leeds"], multi: true }]]), range));
  } catch {
    failed = true;
  }
  assert.ok(failed, "O'Brien\\ breaks the old query");
});

function checkRun(run: DashboardRun, names: string[]): void {
  assert.equal(run.errors, []);
  for (const p of run.panels) {
    assert.equal(p.errors, [], `${p.panel.title}: no error`);
    // Only ids: every literal in an IN list is 32 hex digits.
    for (const sql of p.sql)
      for (const list of sql.matchAll(/branch_id IN \(([^)]*)\)/g))
        for (const literal of list[1]!.split(",")) assert.match(literal, /^'[0-9a-f]{32}'$/, `${p.panel.title}: ${literal}`);
  }
  const want = names.reduce((a, n) => ({ n: a.n + truth.get(n)!.n, revenue: a.revenue + truth.get(n)!.revenue }), { n: 0, revenue: 0 });
  assert.is(firstValue(run, "Sales"), want.n, "Sales");
  assert.ok(Math.abs((firstValue(run, "Revenue") as number) - want.revenue) < 1e-6, "Revenue");
  const league = panel(run, "Branch league table").frames[0]!;
  assert.equal([...(league.fields[0]!.values as string[])].sort(), [...names].sort(), "league table: the names as written");
  const counts = league.fields.find((f) => f.name === "Sales")!.values as number[];
  (league.fields[0]!.values as string[]).forEach((n, i) => assert.is(counts[i], truth.get(n)!.n, `${n}: its own sales`));
  const series = panel(run, "Revenue over time by branch").frames[0]!;
  assert.equal([...new Set(series.fields.find((f) => f.name === "branch")!.values as string[])].sort(), [...names].sort());
  const share = panel(run, "Revenue share by branch").frames[0]!.fields.find((f) => f.name === "share")!.values as number[];
  assert.ok(Math.abs(share.reduce((a, b) => a + b, 0) - 100) < 1e-6, "shares add up to 100");
  for (const title of [
    "Top products by revenue",
    "Top products by units",
    "Payment mix",
    "Average basket size",
    "Busiest hours (average sales per trading day)",
  ])
    assert.ok(panel(run, title).frames[0]!.length > 0, `${title} has rows`);
}

test("every Sales panel under Redshift's literal rules, All selected: the warehouse's figures, no error", async () => {
  const run = await runDashboard(sales as Dashboard, w.pipeline.warehouse);
  assert.equal(run.variables[0]!.value.texts!.slice().sort(), [...NAMES].sort(), "the list shows the names");
  assert.ok(allPanels(sales).length >= 12);
  checkRun(run, NAMES);
});

test("every Sales panel with each branch alone, chosen by name as --var and Grafana's URL allow", async () => {
  for (const name of NAMES) {
    const run = await runDashboard(sales as Dashboard, w.pipeline.warehouse, { variables: { branch: [name] } });
    checkRun(run, [name]);
  }
  const two = await runDashboard(sales as Dashboard, w.pipeline.warehouse, { variables: { branch: [NAMES[0]!, NAMES[1]!] } });
  checkRun(two, [NAMES[0]!, NAMES[1]!]);
});

test.run();
