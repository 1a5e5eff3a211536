// Issue 5: the provisioned Grafana files, checked offline. Structure of the provisioning and dashboard
// files; the plugin's macros and Grafana's variable expansion; every variable and panel query run on a
// fresh local warehouse (generated data, and ../shared/samples when present); and a deliberately
// broken dashboard showing that each kind of problem is caught.
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { text } from "node:stream/consumers";
import { generateSample, sampleFileName } from "../functions/core/sample.js";
import { join } from "node:path";
import { openLocalPipeline } from "../functions/local/pipeline.js";
const RAW = new URL("./fixtures/raw", import.meta.url).pathname;
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkQueries, checkStructure } from "../grafana/lib/check.js";
import {
  expandMacros,
  formatWallClock,
  interpolateVariables,
  parseGrafanaTime,
  parseTimeInput,
  renderSql,
  variableReferences,
  type VariableValues,
} from "../grafana/lib/interpolate.js";
import { runDashboard } from "../grafana/lib/run.js";
import { allPanels, GRAFANA_DIR, provisioningFiles, readDashboard, readDashboards, readProvisionedDataSources, type Dashboard } from "../grafana/lib/model.js";
import {
  FIXTURES,
  generatedWarehouse,
  hasSharedSamples,
  openTestWarehouse,
  SHARED_SAMPLES,
  sharedSamplesWarehouse,
  type TestWarehouse,
} from "./fixtures/grafana/warehouse.js";

const dashboards = readDashboards();
const datasources = readProvisionedDataSources(provisioningFiles());
const broken = readDashboard(join(FIXTURES, "broken", "broken.json"));
const byUid = (uid: string): Dashboard => {
  const d = dashboards.find((f) => f.dashboard?.uid === uid)?.dashboard;
  assert.ok(d, `dashboard ${uid} exists`);
  return d!;
};
const titles = (d: Dashboard): string[] => allPanels(d).map((p) => p.title ?? "");
const expectError = (errors: string[], pattern: RegExp): void =>
  assert.ok(
    errors.some((e) => pattern.test(e)),
    `expected an error matching ${pattern}, got:\n${errors.join("\n")}`,
  );

// ---------- provisioning ----------

test("Redshift data source: official plugin, instance role, workgroup from the environment, fixed uid, not editable", () => {
  const rs = datasources.find((d) => d.uid === "coffeetl-redshift");
  assert.ok(rs);
  assert.is(rs!.type, "grafana-redshift-datasource");
  assert.is(rs!.editable, "false");
  assert.equal(rs!.jsonData, {
    authType: "default",
    defaultRegion: "${AWS_REGION}",
    useServerless: "true",
    workgroupName: "${REDSHIFT_WORKGROUP_NAME}",
    database: "${REDSHIFT_DATABASE}",
    useManagedSecret: "false",
  });
  const settings = readFileSync(join(GRAFANA_DIR, "provisioning/datasources/redshift.yaml"), "utf8").replace(/^\s*#.*$/gm, "");
  assert.not.match(settings, /\b(secureJsonData|accessKey|secretKey|password|managedSecret):/i, "no stored credentials");
});

test("provisioned-cluster variant: same name and uid, cluster and db user from the environment", () => {
  const [variant] = readProvisionedDataSources([join(GRAFANA_DIR, "datasource-variants/redshift-provisioned.yaml")]);
  const serverless = datasources.find((d) => d.uid === "coffeetl-redshift")!;
  assert.ok(variant);
  assert.equal([variant!.name, variant!.uid, variant!.type, variant!.editable], [serverless.name, serverless.uid, serverless.type, "false"]);
  assert.equal(variant!.jsonData, {
    authType: "default",
    defaultRegion: "${AWS_REGION}",
    useServerless: "false",
    clusterIdentifier: "${REDSHIFT_CLUSTER_IDENTIFIER}",
    dbUser: "${REDSHIFT_DB_USER}",
    database: "${REDSHIFT_DATABASE}",
    useManagedSecret: "false",
  });
});

test("CloudWatch data source: instance role, region from the environment, fixed uid", () => {
  const cw = datasources.find((d) => d.uid === "coffeetl-cloudwatch");
  assert.ok(cw);
  assert.is(cw!.type, "cloudwatch");
  assert.is(cw!.editable, "false");
  assert.equal(cw!.jsonData, { authType: "default", defaultRegion: "${AWS_REGION}" });
});

test("dashboard provider: files into the CoffeETL folder, UI edits and deletion off", () => {
  const text = readFileSync(join(GRAFANA_DIR, "provisioning/dashboards/coffeetl.yaml"), "utf8");
  assert.match(text, /^\s+type: file$/m);
  assert.match(text, /^\s+folder: CoffeETL$/m);
  assert.match(text, /^\s+allowUiUpdates: false$/m);
  assert.match(text, /^\s+disableDeletion: true$/m);
  assert.match(text, /^\s+path: \/\S+$/m);
});

// ---------- structure ----------

test("the dashboards pass every structural check", () => {
  assert.ok(dashboards.length >= 2);
  assert.equal(checkStructure(dashboards, datasources), []);
});

test("Sales has the panels the issue asks for, and every SQL panel filters by the branch variable", () => {
  const sales = byUid("coffeetl-sales");
  assert.equal(sales.time, { from: "now-30d", to: "now" });
  const want = [
    /^Revenue$/,
    /^Sales$/,
    /Average sale value/,
    /Average basket size/,
    /Latest sale/,
    /Revenue over time by branch/,
    /Revenue share by branch/,
    /Top products by revenue/,
    /Top products by units/,
    /Payment mix/,
    /Busiest hours/,
    /league table/,
  ];
  for (const re of want)
    assert.ok(
      titles(sales).some((t) => re.test(t)),
      `a panel titled ${re}`,
    );
  const branch = sales.templating?.list?.find((v) => v.name === "branch");
  assert.ok(branch?.multi && branch.includeAll, "branch is multi-select with All");
  for (const p of allPanels(sales))
    for (const t of p.targets ?? []) {
      assert.match(t.rawSQL ?? "", "t.branch_id IN (${branch:sqlstring})", `${p.title} filters by branch id`);
      // Only ids reach the SQL: a branch name never does (issue 19).
      assert.not.match(t.rawSQL ?? "", /branch_name\s+IN|\$\{?branch(?!:sqlstring\})/, `${p.title} uses the variable only as ids`);
    }
});

test("Pipeline health has loads panels and CloudWatch panels for both Lambdas and the dead-letter queue", () => {
  const health = byUid("coffeetl-pipeline");
  for (const re of [
    /Files loaded per day/,
    /Rows rejected and warnings per file/,
    /Duplicate/,
    /Last load per branch/,
    /Lambda errors/,
    /Lambda duration/,
    /Dead-letter queue/,
  ])
    assert.ok(
      titles(health).some((t) => re.test(t)),
      `a panel titled ${re}`,
    );
  const cw = allPanels(health).flatMap((p) => (p.targets ?? []).filter((t) => t.datasource?.uid === "coffeetl-cloudwatch"));
  const fns = new Set(cw.filter((t) => t.namespace === "AWS/Lambda").map((t) => JSON.stringify(t.dimensions)));
  assert.equal([...fns].sort(), ['{"FunctionName":"coffeetl-${stack}-extract-transform"}', '{"FunctionName":"coffeetl-${stack}-load"}']);
  assert.ok(cw.some((t) => t.metricName === "Errors") && cw.some((t) => t.metricName === "Duration"));
  assert.ok(cw.some((t) => t.namespace === "AWS/SQS" && t.metricName === "ApproximateNumberOfMessagesVisible"));
  assert.is(health.templating?.list?.[0]?.name, "stack");
});

test("the broken fixture fails each structural check", () => {
  const errors = checkStructure([...dashboards, broken], datasources);
  expectError(errors, /uid also used by sales\.json/);
  expectError(errors, /variable \$early: uses \$late, which is defined after it/);
  expectError(errors, /panel "Undefined variable": undefined variable \$shop/);
  expectError(errors, /panel "Wrong data source uid": data source uid "coffeetl-redshfit" is not provisioned/);
  expectError(errors, /gridPos x=20 w=8 is outside the 24-column grid/);
  expectError(errors, /no unit \(fieldConfig\.defaults\.unit\)/);
  expectError(errors, /unknown macro \$__timeFiltr/);
  expectError(errors, /not portable to Redshift: `::` casts/);
  expectError(errors, /not portable to Redshift: aggregate FILTER/);
  expectError(errors, /panel "": no title/);
  expectError(errors, /import placeholders/);
  const onlyBroken = checkStructure([broken], datasources);
  assert.not.ok(onlyBroken.some((e) => /uid also used/.test(e)));
});

test("provisioning problems are caught: a data source with keys or editable, or a missing uid", () => {
  const errors = checkStructure(
    [],
    [
      { file: "x.yaml", name: "a", uid: "a", type: "grafana-redshift-datasource", editable: "true", jsonData: { authType: "keys" } },
      { file: "x.yaml", name: "b", type: "cloudwatch", editable: "false", jsonData: { authType: "default" } },
    ],
  );
  expectError(errors, /a must be editable: false/);
  expectError(errors, /a must use the instance role/);
  expectError(errors, /"b" has no fixed uid/);
});

// ---------- macros and variables ----------

const range = { from: new Date("2024-03-01T00:00:00.000Z"), to: new Date("2024-03-30T20:40:00.000Z") };

test("macros expand as the Redshift plugin's macros.go", () => {
  assert.is(
    expandMacros("WHERE $__timeFilter(t.transaction_time)", range),
    "WHERE t.transaction_time BETWEEN '2024-03-01T00:00:00Z' AND '2024-03-30T20:40:00Z'",
  );
  assert.is(expandMacros("SELECT $__timeGroup(t.transaction_time, '1d')", range), `SELECT floor(extract(epoch from t.transaction_time)/86400)*86400 AS "time"`);
  assert.is(expandMacros("$__timeGroup(x,'1h')", range), `floor(extract(epoch from x)/3600)*3600 AS "time"`);
  assert.is(expandMacros("$__timeFrom() $__timeTo()", range), "'2024-03-01T00:00:00Z' '2024-03-30T20:40:00Z'");
  assert.is(expandMacros("$__unixEpochFilter(ts)", range), "ts >= 1709251200 AND ts <= 1711831200");
  assert.throws(() => expandMacros("$__timeGroup(x)", range), /needs time column and interval/);
  assert.throws(() => expandMacros("$__timeFilter(a, b)", range), /expected 1 argument/);
  assert.throws(() => expandMacros("$__interval_ms", range), /unknown macro/);
});

test("variables expand as Grafana does: sqlstring quoting, All as every value, raw single values", () => {
  const values: VariableValues = new Map([
    ["branch", { values: ["Leeds", "King's Lynn"], multi: true, all: true }],
    ["stack", { values: ["acme-prod"], multi: false }],
  ]);
  assert.is(interpolateVariables("IN (${branch:sqlstring})", values), "IN ('Leeds','King''s Lynn')");
  assert.is(interpolateVariables("IN ($branch)", values, { forSql: true }), "IN ('Leeds','King''s Lynn')");
  assert.is(interpolateVariables("coffeetl-${stack}-load [[stack]] $stack", values), "coffeetl-acme-prod-load acme-prod acme-prod");
  assert.is(interpolateVariables("${__field.labels.branch} $__timeFilter(x)", values), "${__field.labels.branch} $__timeFilter(x)");
  assert.throws(() => interpolateVariables("IN (${shop:sqlstring})", values), /undefined variable \$shop/);
  assert.equal(variableReferences("$a ${b} ${c:csv} [[d]] $__from ${__field.name}"), ["a", "b", "c", "d"]);
  // Grafana's formatRegistry: sqlstring doubles ' and writes " as \" (and leaves \ alone); json of one
  // string is the string; glob braces only several values; text is the display texts.
  const named: VariableValues = new Map([
    ["b", { values: ['a"b\\', "c'd"], multi: true, texts: ["A", "C"] }],
    ["one", { values: ["x"], multi: true }],
    ["single", { values: ["y"], multi: false }],
  ]);
  assert.is(interpolateVariables("${b:sqlstring}", named), `'a\\"b\\','c''d'`);
  assert.is(interpolateVariables("${b:text} ${b:json} ${single:json} ${one:json}", named), 'A + C ["a\\"b\\\\","c\'d"] y ["x"]');
  assert.is(interpolateVariables("$one ${b}", named), "x {a\"b\\,c'd}");
  assert.is(
    renderSql("WHERE $__timeFilter(t.x) AND b IN (${branch:sqlstring})", values, range),
    "WHERE t.x BETWEEN '2024-03-01T00:00:00Z' AND '2024-03-30T20:40:00Z' AND b IN ('Leeds','King''s Lynn')",
  );
});

test("Grafana relative times", () => {
  const now = new Date("2024-03-30T20:40:00Z");
  assert.is(parseGrafanaTime("now-30d", now).toISOString(), "2024-02-29T20:40:00.000Z");
  assert.is(parseGrafanaTime("now-7d", now).toISOString(), "2024-03-23T20:40:00.000Z");
  assert.is(parseGrafanaTime("now/d", now).toISOString(), "2024-03-30T00:00:00.000Z");
  assert.is(parseGrafanaTime("now-1M/M", now).toISOString(), "2024-02-01T00:00:00.000Z");
  assert.throws(() => parseGrafanaTime("yesterday", now));
});

// ---------- queries on a real warehouse ----------

let generated: TestWarehouse | undefined;
test.after(async () => {
  await generated?.dispose();
});

test("generated data: every variable and panel query runs and returns rows of the shape its panel needs", async () => {
  generated = await generatedWarehouse();
  const { errors, runs } = await checkQueries(dashboards, generated.pipeline.warehouse);
  assert.equal(errors, []);
  const sqlPanels = runs.flatMap((r) => r.run.panels.filter((p) => p.kind === "sql"));
  assert.ok(sqlPanels.length >= 15, `${sqlPanels.length} SQL panels ran`);
  for (const p of sqlPanels)
    if (!p.panel.fieldConfig?.defaults?.noValue) assert.ok(p.frames.length && p.frames.every((f) => f.length > 0), `${p.panel.title} has rows`);
  assert.is(runs.flatMap((r) => r.run.panels.filter((p) => p.kind === "cloudwatch")).length, 6);

  // The numbers are the warehouse's: the default range (30 days up to the latest sale) holds all the generated sales.
  const db = generated.pipeline.warehouse;
  const [truth] = await db.query<{ n: string; revenue: string }>("SELECT COUNT(*) AS n, SUM(total_amount) AS revenue FROM transactions");
  const sales = runs.find((r) => r.run.dashboard.uid === "coffeetl-sales")!.run;
  assert.is(sales.anchor.reason, "latest transactions.transaction_time");
  assert.is(sales.anchor.now.toISOString(), "2024-03-30T20:41:00.000Z");
  assert.equal(sales.variables[0]?.value.texts, ["Chesterfield", "Leeds", "London Brixton"]);
  assert.equal(
    sales.variables[0]?.value.values,
    (await db.query<{ id: string }>("SELECT branch_id AS id FROM branches ORDER BY branch_name")).map((r) => r.id),
    "the values are the branches' ids",
  );
  const stat = (title: string): unknown => sales.panels.find((p) => p.panel.title === title)?.frames[0]?.fields[0]?.values[0];
  assert.is(stat("Sales"), Number(truth!.n));
  assert.is(stat("Revenue"), Number(truth!.revenue));
  const series = sales.panels.find((p) => p.panel.title === "Revenue over time by branch")!.frames[0]!;
  assert.equal(
    series.fields.map((f) => `${f.name}:${f.type}`),
    ["time:time", "branch:string", "revenue:number"],
  );

  const health = runs.find((r) => r.run.dashboard.uid === "coffeetl-pipeline")!.run;
  const hstat = (title: string): unknown => health.panels.find((p) => p.panel.title === title)?.frames[0]?.fields[0]?.values[0];
  assert.is(hstat("Files loaded"), generated.reports.length);
  assert.is(hstat("Rows rejected"), 2);
  assert.is(hstat("Warnings"), 1);
  assert.is(hstat("Duplicate sales skipped"), 40);
  const perBranch = health.panels.find((p) => p.panel.title === "Last load per branch")!.frames[0]!;
  assert.equal([...(perBranch.fields[0]!.values as string[])].sort(), ["(no new sales in file)", "Chesterfield", "Leeds", "London Brixton"]);
  const files = perBranch.fields.find((f) => f.name === "Files loaded")!.values;
  assert.is(
    (files as number[]).reduce((a, b) => a + b, 0),
    generated.reports.length,
    "every load is attributed once",
  );
});

test("the broken fixture fails at run time: broken SQL, undefined variable, time series without time", async () => {
  assert.ok(generated, "needs the generated warehouse");
  const { errors } = await checkQueries([broken], generated!.pipeline.warehouse);
  expectError(errors, /panel "Broken SQL": query A: SQL failed: .*syntax error/);
  expectError(errors, /panel "Undefined variable": query A: undefined variable \$shop/);
  expectError(errors, /variable \$early: undefined variable \$late/);
  expectError(errors, /panel "Time series without a time column": time series needs a "time" column/);
  expectError(errors, /unknown macro \$__timeFiltr/);
});

test("as Grafana renders them: thresholds on every stat, an explicit time zone; both missing are caught", () => {
  for (const d of dashboards.map((f) => f.dashboard!)) {
    assert.is(d.timezone, "Europe/London", `${d.uid}: UK time, said so on the time picker`);
    for (const p of allPanels(d).filter((x) => x.type === "stat")) assert.ok(p.fieldConfig?.defaults?.thresholds?.steps?.length, `${p.title} has thresholds`);
  }
  const bare = JSON.parse(JSON.stringify(byUid("coffeetl-sales"))) as Dashboard;
  bare.uid = "bare";
  delete bare.timezone;
  delete allPanels(bare)[0]!.fieldConfig!.defaults!.thresholds;
  const errors = checkStructure([{ file: "bare.json", text: "{}", dashboard: bare }], datasources);
  expectError(errors, /bare: set an explicit "timezone"/);
  expectError(errors, /panel "Revenue": stat has no thresholds \(Grafana's default turns it red from 80\)/);
});

test("till times (UK local) are converted to UTC instants, so Grafana's Europe/London display shows them as written", async () => {
  assert.ok(generated, "needs the generated warehouse");
  const db = generated!.pipeline.warehouse;
  const [row] = await db.query<{ winter: string; summer: string }>(
    `SELECT TO_CHAR(TIMESTAMP '2024-01-15 12:00:00' AT TIME ZONE 'Europe/London' AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS winter,
            TO_CHAR(TIMESTAMP '2024-07-15 12:00:00' AT TIME ZONE 'Europe/London' AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS summer`,
  );
  assert.equal(row, { winter: "2024-01-15 12:00", summer: "2024-07-15 11:00" });
  const sales = (await runDashboard(byUid("coffeetl-sales"), db)).panels;
  const [latest] = await db.query<{ t: string }>("SELECT TO_CHAR(MAX(transaction_time), 'YYYY-MM-DD HH24:MI') AS t FROM transactions");
  const shown = sales.find((p) => p.panel.title === "Latest sale (freshness)")!.frames[0]!.fields[0]!.values[0] as number;
  assert.is(formatWallClock(new Date(shown), "Europe/London"), latest!.t, "the newest till time, shown as written");
});

test("Busiest hours: average sales per trading day of each weekday, not a sum that favours weekdays occurring more often", async () => {
  assert.ok(generated, "needs the generated warehouse");
  const db = generated!.pipeline.warehouse;
  // Two more Saturdays at one branch: Saturday now occurs on three days, other weekdays on one.
  const extra = await mkdtemp(join(tmpdir(), "coffeetl-saturdays-"));
  for (const date of ["2024-03-16", "2024-03-23"])
    await writeFile(join(extra, sampleFileName("Leeds", date, 9)), await text(generateSample({ branch: "Leeds", date, rows: 30, seed: 3 })));
  assert.ok((await generated!.pipeline.ingest([extra])).every((r) => r.ok));
  await rm(extra, { recursive: true, force: true });
  const run = await runDashboard(byUid("coffeetl-sales"), db);
  const table = run.panels.find((p) => p.panel.title?.startsWith("Busiest hours"))!.frames[0]!;
  // Independently: every sale's till time, grouped here in JavaScript.
  const times = (await db.query<{ t: string }>("SELECT TO_CHAR(transaction_time, 'YYYY-MM-DD HH24:MI') AS t FROM transactions")).map((r) => r.t);
  const NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const days = new Map<number, Set<string>>();
  const cells = new Map<string, number>();
  for (const t of times) {
    const dow = new Date(`${t.slice(0, 10)}T00:00:00Z`).getUTCDay();
    (days.get(dow) ?? days.set(dow, new Set()).get(dow)!).add(t.slice(0, 10));
    const key = `${dow} ${t.slice(11, 13)}:00`;
    cells.set(key, (cells.get(key) ?? 0) + 1);
  }
  const hours = table.fields[0]!.values as string[];
  let checked = 0;
  for (const [key, count] of cells) {
    const [dow, hour] = key.split(" ");
    const value = table.fields.find((f) => f.name === NAMES[Number(dow)])!.values[hours.indexOf(hour!)] as number;
    assert.ok(
      Math.abs(value - count / days.get(Number(dow))!.size) < 1e-9,
      `${NAMES[Number(dow)]} ${hour}: ${value} vs ${count}/${days.get(Number(dow))!.size}`,
    );
    checked++;
  }
  assert.ok(checked > 20, `${checked} cells checked`);
  assert.ok(
    [...days.values()].some((d) => d.size > 1),
    "some weekday occurs on several days (the case a sum gets wrong)",
  );
});

test("options as Grafana's URL gives them: a branch, a range; unknown values are clear errors", async () => {
  assert.ok(generated, "needs the generated warehouse");
  const db = generated!.pipeline.warehouse;
  const run = await runDashboard(byUid("coffeetl-sales"), db, { from: "2024-03-20", to: "2024-03-30 23:59", variables: { branch: ["Leeds"] } });
  assert.equal(run.errors, []);
  assert.is(run.rangeReason, "given");
  const [truth] = await db.query<{ n: string }>(
    "SELECT COUNT(*) AS n FROM transactions t JOIN branches b ON b.branch_id = t.branch_id WHERE b.branch_name = 'Leeds' AND t.transaction_time BETWEEN '2024-03-20 00:00' AND '2024-03-30 23:59'",
  );
  assert.is(run.panels.find((p) => p.panel.title === "Sales")!.frames[0]!.fields[0]!.values[0], Number(truth!.n));
  const whole = await runDashboard(byUid("coffeetl-sales"), db);
  assert.match(whole.rangeReason, /whole history/);
  const [all] = await db.query<{ n: string }>("SELECT COUNT(*) AS n FROM transactions");
  assert.is(whole.panels.find((p) => p.panel.title === "Sales")!.frames[0]!.fields[0]!.values[0], Number(all!.n), "the default range shows every sale");
  const bad = await runDashboard(byUid("coffeetl-sales"), db, { variables: { branch: ["Atlantis"] } });
  expectError(bad.errors, /variable \$branch: "Atlantis" is not one of its values \(Chesterfield, Leeds, London Brixton/);
  const backwards = await runDashboard(byUid("coffeetl-sales"), db, { from: "2024-03-30", to: "2024-03-01" });
  expectError(backwards.errors, /must end after it starts/);
  assert.throws(() => parseTimeInput("last tuesday", new Date(), "Europe/London"), /use now-7d, 2024-03-01/);
  assert.is(parseTimeInput("2024-07-01 09:00", new Date(), "Europe/London").toISOString(), "2024-07-01T08:00:00.000Z");
});

test('an empty warehouse: no errors, every SQL panel is "No data" or zero', async () => {
  const empty = await openTestWarehouse(async () => []);
  try {
    await empty.pipeline.warehouse.ensureSchema();
    for (const f of dashboards) {
      const run = await runDashboard(f.dashboard!, empty.pipeline.warehouse);
      assert.equal(run.errors, [], f.dashboard!.uid);
      for (const p of run.panels.filter((x) => x.kind === "sql")) assert.equal(p.errors, [], p.panel.title);
      assert.ok(run.panels.filter((p) => p.empty).length >= 4, `${f.dashboard!.uid}: panels with no data`);
      assert.match(run.rangeReason, /no data yet/);
    }
  } finally {
    await empty.dispose();
  }
});

if (hasSharedSamples()) {
  test("real samples (../shared/samples): every variable and panel query runs and returns rows", async () => {
    const w = await sharedSamplesWarehouse();
    try {
      assert.ok(w.reports.length >= 8);
      const { errors, runs } = await checkQueries(dashboards, w.pipeline.warehouse);
      assert.equal(errors, []);
      assert.ok(runs.every((r) => r.run.panels.some((p) => p.kind === "sql" && p.frames[0]!.length > 0)));
    } finally {
      await w.dispose();
    }
  });
} else {
  console.log(`[skip] real samples: ${SHARED_SAMPLES} not found`);
}

test("Failed files lists files whose latest outcome is failed: not a loaded file, not one that failed and then loaded", async () => {
  const home = await mkdtemp(join(tmpdir(), "coffeetl-grafana-failed-"));
  const pipeline = await openLocalPipeline({ home });
  try {
    const dir = join(home, "incoming");
    await mkdir(dir, { recursive: true });
    const good = await text(generateSample({ branch: "Leeds", date: "2024-03-30", rows: 10, seed: 3 }));
    const fixed = join(dir, "fixed_later.csv");
    await writeFile(fixed, readFileSync(join(RAW, "prose.csv")));
    const first = await pipeline.ingest([join(RAW, "not_csv.csv"), join(RAW, "prose.csv"), join(RAW, "canonical.csv"), fixed]);
    assert.equal(
      first.map((r) => r.ok),
      [false, false, true, false],
    );
    await new Promise((r) => setTimeout(r, 20)); // a later recorded_at for the fixed upload
    await writeFile(fixed, good);
    const second = await pipeline.ingest([fixed]);
    assert.ok(second[0]!.ok, "the fixed file loads");

    const run = await runDashboard(byUid("coffeetl-pipeline"), pipeline.warehouse, { from: "2020-01-01", to: "2099-12-31" });
    const panel = (type: string, title: string) => run.panels.find((p) => p.panel.type === type && p.panel.title === title)!;
    const table = panel("table", "Failed files");
    assert.equal(table.errors, []);
    const frame = table.frames[0]!;
    assert.equal(
      frame.fields.map((f) => f.name),
      ["Recorded at", "Stage", "File", "Reason"],
    );
    const files = (frame.fields[2]!.values as string[]).map((k) => k.split("/").pop());
    assert.equal([...files].sort(), ["not_csv.csv", "prose.csv"]);
    for (const reason of frame.fields[3]!.values as string[]) assert.ok(reason && reason.length > 0, "a reason");
    assert.is(panel("stat", "Failed files").frames[0]!.fields[0]!.values[0], 2);
    const outcomes = panel("table", "Outcomes").frames[0]!;
    const count = Object.fromEntries((outcomes.fields[0]!.values as string[]).map((o, i) => [o, outcomes.fields[1]!.values[i]]));
    assert.equal(count, { failed: 2, loaded: 2 });
  } finally {
    await pipeline.close();
    await rm(home, { recursive: true, force: true });
  }
});

test.run();
