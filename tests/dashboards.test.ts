// `coffeetl dashboards`: the provisioned dashboards rendered from the local warehouse, in headless
// Chromium. A self-contained page (offline, every SQL panel drew); the served page whose controls
// change the time range and the branch and re-run the queries (numbers checked against SQL); the
// real samples' full history; an empty warehouse showing "No data", never an error.
// Screenshots (gitignored): tests/artifacts/dashboards.png, dashboards-samples.png, dashboards-empty.png.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Browser, Page } from "playwright-core";
import { dashboardsCommand, parseVars, renderDashboardsPage, startPreviewServer } from "../cli/dashboards.js";
import { openLocalPipeline } from "../functions/local/pipeline.js";
import { allPanels, readDashboards } from "../grafana/lib/model.js";
import { FIXTURES, generatedWarehouse, hasSharedSamples, SHARED_SAMPLES, sharedSamplesWarehouse, type TestWarehouse } from "./fixtures/grafana/warehouse.js";

// Browser globals in functions run inside the page (the tests compile without the DOM library).
declare const window: any;
declare const document: any;

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = new URL("./artifacts/", import.meta.url).pathname;
const dashboards = readDashboards().map((f) => f.dashboard!);
const LONDON_TO_UTC = "t.transaction_time AT TIME ZONE 'Europe/London' AT TIME ZONE 'UTC'";

let warehouse: TestWarehouse | undefined;
let out = "";
let brokenPage = "";
let scratch = "";

test.before(async () => {
  warehouse = await generatedWarehouse();
  scratch = await mkdtemp(join(tmpdir(), "coffeetl-preview-"));
  // The broken fixture, rendered from the open warehouse, to show a failing panel is visible as such.
  const { html } = await renderDashboardsPage(warehouse.pipeline.warehouse, { dashboardsDir: join(FIXTURES, "broken"), source: "test" });
  brokenPage = join(scratch, "broken.html");
  await writeFile(brokenPage, html);
  await warehouse.close(); // the command opens the warehouse itself
  out = join(scratch, "preview.html");
});

test.after(async () => {
  await warehouse?.dispose();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

test("--var name=value pairs; several values for one name", () => {
  assert.equal(parseVars(["branch=Leeds", "branch=King's Lynn", "stack=a=b"]), { branch: ["Leeds", "King's Lynn"], stack: ["a=b"] });
  assert.throws(() => parseVars(["Leeds"]), /--var takes name=value/);
});

test("dashboardsCommand writes one self-contained page with every dashboard, panel and the controls", async () => {
  const logged: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => (logged.push(String(chunk)), true)) as typeof process.stdout.write;
  try {
    await dashboardsCommand({ home: warehouse!.home, out });
  } finally {
    process.stdout.write = write;
  }
  assert.match(
    logged.join(""),
    /2 dashboards, \d+ panels from the warehouse, 1 with no data, 6 CloudWatch placeholders; ranges: .*CoffeETL · Sales: 2024-03-06 00:00 → 2024-03-30 23:59 \(the data's whole history/,
  );
  const html = readFileSync(out, "utf8");
  for (const d of dashboards) assert.ok(html.includes(`data-dashboard-uid="${d.uid}"`), `${d.uid} in the page`);
  const panelCount = dashboards.reduce((n, d) => n + allPanels(d).length, 0);
  assert.is((html.match(/class="panel" id=/g) ?? []).length, panelCount);
  assert.match(html, /<input name="from" value="" placeholder="whole history"/, "no range asked: each dashboard's whole history");
  assert.match(html, /<span class="range" [^>]*>2024-03-06 00:00 → 2024-03-30 23:59 \(Europe\/London\)<\/span>/, "Sales: every generated sale, in UK days");
  // The list shows names; each option stands for the branch's id (hex), which Grafana's URL carries.
  assert.match(
    html,
    /<select name="var-branch" data-variable="branch" multiple size="4"><option value="\$__all" selected>All<\/option><option value="[0-9a-f]{32}" data-text="Chesterfield">Chesterfield<\/option>/,
  );
  assert.not.match(html, /name="var-stack"/, "the stack constant is hidden");
  // Offline: no external scripts, styles or fonts.
  assert.not.match(html, /<script[^>]+src=|<link[^>]+href="http|@import|url\(http/i);
  assert.ok(html.includes("echarts"), "echarts is inlined");
});

test("--serve answers only its own host name (127.0.0.1 or localhost and its port): a rebound DNS name gets 421", async () => {
  const pipeline = await openLocalPipeline({ home: warehouse!.home });
  const server = await startPreviewServer({ home: warehouse!.home, db: pipeline.warehouse });
  const get = (host: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const u = new URL(server.url);
      const req = request({ host: u.hostname, port: u.port, path: "/", headers: { host } }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    });
  try {
    const port = new URL(server.url).port;
    for (const host of ["evil.example", `evil.example:${port}`, "127.0.0.1", `127.0.0.1:1`, `localhost.evil.example:${port}`]) {
      const r = await get(host);
      assert.is(r.status, 421, host);
      assert.not.match(r.body, /coffeetl|£/i, `${host}: no page`);
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`]) {
      const r = await get(host);
      assert.is(r.status, 200, host);
      assert.match(r.body, /CoffeETL dashboards preview/);
    }
  } finally {
    await server.close();
    await pipeline.close();
  }
});

async function panelsOf(page: Page) {
  return page.$$eval(".panel", (ps) =>
    ps.map((p) => ({
      title: p.querySelector("h3")?.textContent ?? "",
      kind: p.getAttribute("data-panel-kind"),
      type: p.getAttribute("data-panel-type"),
      status: p.getAttribute("data-panel-status"),
      canvas: p.querySelectorAll("canvas").length,
      rows: p.querySelectorAll("tbody tr").length,
      stat: p.querySelector(".stat-value")?.textContent ?? "",
      color: p.querySelector(".stat-value")?.getAttribute("data-color") ?? "",
      text: p.textContent ?? "",
      height: p.querySelector(".panel-body")?.getBoundingClientRect().height ?? 0,
    })),
  );
}
const statOf = async (page: Page, dashboard: string, title: string) =>
  page.$eval(
    `section[data-dashboard-uid="${dashboard}"]`,
    (s, t) => {
      const panel = [...s.querySelectorAll(".panel")].find((p) => p.querySelector("h3")?.textContent === t);
      return panel?.querySelector(".stat-value")?.textContent ?? panel?.textContent ?? "";
    },
    title,
  );
const rangeOf = (page: Page, dashboard: string) => page.$eval(`section[data-dashboard-uid="${dashboard}"] .range`, (e) => e.textContent ?? "");

if (!existsSync(CHROMIUM)) {
  console.log(`[skip] chromium not installed at ${CHROMIUM}: the in-browser preview tests do not run`);
} else {
  let browser: Browser;
  const launch = async () => {
    const { chromium } = await import("playwright-core");
    return chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  };
  const open = async (url: string, problems: string[] = []) => {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("request", (r) => {
      if (!/^(file:|data:|http:\/\/127\.0\.0\.1:)/.test(r.url())) problems.push(`network request: ${r.url()}`);
    });
    await page.goto(url);
    await page.waitForSelector("body[data-preview-ready=true]", { timeout: 15_000 });
    return page;
  };

  test("headless Chromium, static page: no console errors, every SQL panel drew, thresholds as Grafana colours them", async () => {
    browser = await launch();
    const problems: string[] = [];
    const page = await open(pathToFileURL(out).href, problems);
    const headings = await page.$$eval(".dashboard h2", (hs) => hs.map((h) => h.textContent));
    assert.equal(
      headings,
      dashboards.map((d) => d.title),
    );
    const panels = await panelsOf(page);
    const sql = panels.filter((p) => p.kind === "sql");
    assert.ok(sql.length >= 15);
    for (const p of sql) {
      assert.is(p.status, p.title === "Failed files" && p.status === "empty" ? "empty" : "ok", `${p.title}: ${p.text.slice(0, 300)}`); // nothing failed: the good case
      assert.ok(p.height > 40, `${p.title} has room to draw`);
      if (p.type === "table") assert.ok(p.status === "empty" || p.rows > 0, `${p.title} has table rows`);
      else if (p.type === "stat") {
        assert.match(p.stat, /\d|ago|just now/, `${p.title} shows a value`);
        assert.is.not(p.color, "red", `${p.title} is not red (Grafana's default threshold is 80)`);
      } else assert.ok(p.canvas > 0, `${p.title} drew an echarts canvas`);
    }
    const cw = panels.filter((p) => p.kind === "cloudwatch");
    assert.is(cw.length, 6);
    for (const p of cw) assert.ok(p.status === "placeholder" && p.text.includes("CloudWatch: shown in Grafana only"));
    assert.ok(panels.find((p) => p.title === "Revenue")!.stat.startsWith("£"));
    assert.is(panels.find((p) => p.title === "Rows rejected")!.color, "orange", "its own threshold (1 and more)");
    assert.match((await page.textContent(".controls .tz")) ?? "", /UK time \(Europe\/London\)/);
    // A static page cannot re-run queries: the controls say which command renders the choice.
    await page.selectOption('select[name="var-branch"]', ["Leeds"]);
    await page.fill('input[name="from"]', "2024-03-20");
    await page.click("#apply");
    assert.is(await page.textContent("#command"), "coffeetl dashboards --from 2024-03-20 --var branch=Leeds");
    assert.equal(problems, []);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "dashboards.png"), fullPage: true });

    // The same page code marks a failing panel as failed, with its error.
    const broken = await open(pathToFileURL(brokenPage).href);
    const statuses = await broken.$$eval(".panel", (ps) => ps.map((p) => `${p.querySelector("h3")?.textContent}=${p.getAttribute("data-panel-status")}`));
    assert.ok(statuses.includes("Broken SQL=error"), statuses.join(", "));
    assert.ok(statuses.includes("Undefined variable=error"), statuses.join(", "));
    assert.ok(statuses.includes("Time series without a time column=error"), statuses.join(", "));
    assert.match((await broken.textContent("body")) ?? "", /syntax error at or near "SELEC"/);
  });

  // Grafana's palette-classic-by-name on the dark theme: the classic palette's colours with a contrast
  // of 3 or more against #181b1f (derived from Grafana's createVisualizationColors), indexed by the
  // npm string-hash of the series name.
  const BY_NAME = [
    "#73BF69",
    "#FADE2A",
    "#5794F2",
    "#FF9830",
    "#F2495C",
    "#B877D9",
    "#37872D",
    "#E0B400",
    "#FA6400",
    "#C8F2C2",
    "#FFF899",
    "#C0D8FF",
    "#FFCB7D",
    "#FFA6B0",
    "#DEB6F2",
    "#447EBC",
    "#C15C17",
    "#B7DBAB",
    "#F4D598",
    "#70DBED",
    "#F9BA8F",
    "#F29191",
    "#82B5D8",
    "#E5A8E2",
    "#AEA2E0",
    "#629E51",
    "#E5AC0E",
    "#64B0C8",
    "#E0752D",
    "#9AC48A",
    "#F2C96D",
    "#65C5DB",
    "#F9934E",
    "#EA6460",
    "#5195CE",
    "#D683CE",
    "#806EB7",
    "#967302",
    "#E0F9D7",
    "#FCEACA",
    "#CFFAFF",
    "#F9E2D2",
    "#FCE2DE",
    "#BADFF4",
    "#F9D9F9",
    "#DEDAF7",
  ];
  const stringHash = (s: string) => {
    let h = 5381;
    for (let i = s.length - 1; i >= 0; i--) h = (h * 33) ^ s.charCodeAt(i);
    return h >>> 0;
  };
  const rgb = (hex: string) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(", ")})`;

  for (const width of [1024, 1600]) {
    test(`a page to show a client at ${width} px: Sales first, labels that fit, the legend table with totals, one colour per branch, day ticks over the chosen range`, async () => {
      const page = await browser.newPage({ viewport: { width, height: 1000 } });
      await page.goto(pathToFileURL(out).href);
      await page.waitForSelector("body[data-preview-ready=true]");
      assert.is(await page.textContent(".dashboard h2"), "CoffeETL · Sales", "Sales before Pipeline health");
      // Stat values fit their panels whole.
      const stats = await page.$$eval(".stat-value", (vs) => vs.map((v) => ({ text: v.textContent, fits: v.scrollWidth <= v.clientWidth })));
      for (const st of stats) assert.ok(st.fits, `${st.text} fits at ${width} px`);
      const sales = 'section[data-dashboard-uid="coffeetl-sales"]';
      const series = await page.$eval(`${sales} .panel[data-panel-id="6"]`, (p) => {
        const rows = [...p.querySelectorAll(".legend-table tbody tr")].map((tr) => ({
          name: tr.querySelector(".legend-name")!.textContent,
          total: tr.querySelector("td.num")!.textContent,
          color: (tr.querySelector(".swatch") as unknown as { style: { background: string } }).style.background,
        }));
        const chart = (window as { echarts: { getInstanceByDom(e: unknown): any } }).echarts.getInstanceByDom(p.querySelector(".plot")!);
        const axis = chart.getModel().getComponent("xAxis", 0).axis;
        return {
          head: [...p.querySelectorAll(".legend-table th")].map((th) => th.textContent),
          rows,
          extent: axis.scale.getExtent(),
          labels: axis.getViewLabels().map((l: { formattedLabel: string }) => l.formattedLabel),
        };
      });
      assert.equal(series.head, ["Name", "Total"]);
      const names = series.rows.map((r) => r.name!);
      assert.equal([...names].sort(), ["Chesterfield", "Leeds", "London Brixton"]);
      const totals = series.rows.map((r) => Number(r.total!.replace(/[£,]/g, "")));
      assert.equal(
        totals,
        [...totals].sort((a, b) => b - a),
        "largest first",
      );
      const revenue = Number((await statOf(page, "coffeetl-sales", "Revenue")).replace(/[£,]/g, ""));
      assert.ok(Math.abs(totals.reduce((a, b) => a + b, 0) - revenue) < 0.01, "the totals add up to Revenue");
      for (const r of series.rows) assert.is(r.color, rgb(BY_NAME[stringHash(r.name!) % BY_NAME.length]!), `${r.name}: Grafana's colour for its name`);
      assert.is(new Set(series.rows.map((r) => r.color)).size, series.rows.length, "one colour per branch");
      // The axis spans the chosen range (the whole history: 6 to 30 March, UK days), ticks on days.
      const wallMs = (s: string) => Date.parse(`${s}Z`);
      assert.equal(series.extent, [wallMs("2024-03-06T00:00:00"), wallMs("2024-03-30T23:59:59")]);
      const ticks = series.labels.filter((l: string) => l);
      assert.ok(ticks.length >= 3, ticks.join(", "));
      for (const l of ticks) assert.match(l, /^\d{1,2} (Mar|Apr)$/, "a day, never a time of day");
      // Bar value labels and the pie's labels inside their panels.
      const bars = await page.$$eval(`${sales} .panel[data-panel-type="barchart"]`, (ps) =>
        ps.map((p) => {
          const chart = (window as { echarts: { getInstanceByDom(e: unknown): any } }).echarts.getInstanceByDom(p.querySelector(".panel-body")!);
          const option = chart.getOption();
          const values = option.series[0].data as number[];
          const formatter = option.series[0].label.formatter as (p: { value: number }) => string;
          const ctx = document.createElement("canvas").getContext("2d")!;
          ctx.font = "12px sans-serif";
          const ends = values.map((v) => chart.convertToPixel({ xAxisIndex: 0 }, v) + 5 + ctx.measureText(formatter({ value: v })).width);
          return { title: p.querySelector("h3")!.textContent, right: Math.max(...ends), width: chart.getWidth() };
        }),
      );
      for (const b of bars) assert.ok(b.right <= b.width, `${b.title}: value labels end at ${Math.round(b.right)} px of ${b.width}`);
      const pie = await page.$eval(`${sales} .panel[data-panel-type="piechart"]`, (p) => ({
        head: [...p.querySelectorAll(".legend-table th")].map((th) => th.textContent),
        position: (window as { echarts: { getInstanceByDom(e: unknown): any } }).echarts.getInstanceByDom(p.querySelector(".plot")!).getOption().series[0].label
          .position,
      }));
      assert.equal(pie, { head: ["Name", "Value", "Percent"], position: "inside" });
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, `dashboards-${width}.png`), fullPage: true });
      await page.close();
    });
  }

  test("served page: the controls change the time range and the branch, and the numbers follow", async () => {
    const pipeline = await openLocalPipeline({ home: warehouse!.home });
    const server = await startPreviewServer({ home: warehouse!.home, db: pipeline.warehouse });
    try {
      const count = async (where: string) =>
        Number(
          (
            await pipeline.warehouse.query<{ n: string }>(
              `SELECT COUNT(*) AS n FROM transactions t JOIN branches b ON b.branch_id = t.branch_id WHERE ${where}`,
            )
          )[0]!.n,
        );
      const page = await open(server.url);
      assert.is(await page.getAttribute("#controls", "data-live"), "true");
      assert.is(await statOf(page, "coffeetl-sales", "Sales"), (await count("TRUE")).toLocaleString("en-GB"), "whole history: every sale");
      assert.match(await rangeOf(page, "coffeetl-sales"), /^2024-03-06 00:00 → 2024-03-30 23:59 \(Europe\/London\)$/);

      // One branch, ten days: a new page, the URL holds Grafana's parameters.
      await page.selectOption('select[name="var-branch"]', ["Leeds"]);
      await page.fill('input[name="from"]', "2024-03-20");
      await page.fill('input[name="to"]', "2024-03-30 23:59");
      await Promise.all([page.waitForNavigation(), page.click("#apply")]);
      await page.waitForSelector("body[data-preview-ready=true]");
      const url = new URL(page.url());
      const [leedsId] = await pipeline.warehouse.query<{ id: string }>("SELECT branch_id AS id FROM branches WHERE branch_name = 'Leeds'");
      assert.equal(
        [url.searchParams.get("from"), url.searchParams.get("to"), url.searchParams.getAll("var-branch")],
        ["2024-03-20", "2024-03-30 23:59", [leedsId!.id]],
      );
      assert.match(await rangeOf(page, "coffeetl-sales"), /^2024-03-20 00:00 → 2024-03-30 23:59/);
      const leeds = await count(`b.branch_name = 'Leeds' AND ${LONDON_TO_UTC} BETWEEN '2024-03-20 00:00:00' AND '2024-03-30 23:59:00'`);
      assert.ok(leeds > 0 && leeds < (await count("TRUE")));
      assert.is(await statOf(page, "coffeetl-sales", "Sales"), leeds.toLocaleString("en-GB"));
      assert.equal(await page.$$eval('select[name="var-branch"] option:checked', (os) => os.map((o) => o.textContent)), ["Leeds"]);
      const league = await page.$$eval('section[data-dashboard-uid="coffeetl-sales"] .panel', (ps) =>
        [...(ps.find((p) => p.querySelector("h3")?.textContent === "Branch league table")?.querySelectorAll("tbody tr td:first-child") ?? [])].map(
          (td) => td.textContent,
        ),
      );
      assert.equal(league, ["Leeds"]);

      // A preset: the last 7 days up to the newest sale.
      await Promise.all([page.waitForNavigation(), page.click('.presets button[data-from="now-7d"]')]);
      await page.waitForSelector("body[data-preview-ready=true]");
      assert.match(await rangeOf(page, "coffeetl-sales"), /^2024-03-23 \d\d:\d\d → 2024-03-30 \d\d:\d\d/);
      const week = await count(`b.branch_name = 'Leeds' AND ${LONDON_TO_UTC} >= (SELECT MAX(${LONDON_TO_UTC}) FROM transactions t) - INTERVAL '7 days'`);
      assert.is(await statOf(page, "coffeetl-sales", "Sales"), week.toLocaleString("en-GB"));

      // A bad value is a clear message, not a broken page.
      const bad = await page.goto(`${server.url}?var-shop=x`);
      assert.is(bad?.status(), 400);
      assert.match((await page.textContent("body")) ?? "", /no dashboard has such a variable/);
    } finally {
      await server.close();
      await pipeline.close();
    }
  });

  if (hasSharedSamples()) {
    test("real samples (../shared/samples): the full history shows every sale", async () => {
      const samples = await sharedSamplesWarehouse();
      try {
        const [row] = await samples.pipeline.warehouse.query<{ n: string }>("SELECT COUNT(*) AS n FROM transactions");
        const { html } = await renderDashboardsPage(samples.pipeline.warehouse, { source: SHARED_SAMPLES });
        const file = join(scratch, "samples.html");
        await writeFile(file, html);
        const page = await open(pathToFileURL(file).href);
        assert.is(await statOf(page, "coffeetl-sales", "Sales"), Number(row!.n).toLocaleString("en-GB"));
        const sql = (await panelsOf(page)).filter((p) => p.kind === "sql");
        for (const p of sql) assert.is(p.status, p.title === "Failed files" && p.status === "empty" ? "empty" : "ok", `${p.title}: ${p.text.slice(0, 200)}`);
        mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: join(ARTIFACTS, "dashboards-samples.png"), fullPage: true });
      } finally {
        await samples.dispose();
      }
    });
  } else {
    console.log(`[skip] real samples screenshot: ${SHARED_SAMPLES} not found`);
  }

  test('an empty warehouse: "No data" (or zero), never an error', async () => {
    const home = await mkdtemp(join(tmpdir(), "coffeetl-empty-"));
    const empty = await openLocalPipeline({ home });
    try {
      await empty.warehouse.ensureSchema();
      const { html } = await renderDashboardsPage(empty.warehouse, { source: "an empty warehouse" });
      const file = join(scratch, "empty.html");
      await writeFile(file, html);
      const problems: string[] = [];
      const page = await open(pathToFileURL(file).href, problems);
      const sql = (await panelsOf(page)).filter((p) => p.kind === "sql");
      for (const p of sql) assert.ok(p.status === "empty" || p.status === "ok", `${p.title}: ${p.status} ${p.text.slice(0, 200)}`);
      assert.ok(sql.filter((p) => p.status === "empty").length >= 8);
      for (const p of sql.filter((x) => x.status === "empty")) assert.ok(p.text.includes("No data"), p.title);
      assert.match(await statOf(page, "coffeetl-sales", "Sales"), /No data/, "an empty warehouse has no sales to count, not zero in green");
      assert.match(await statOf(page, "coffeetl-sales", "Revenue"), /No data/);
      assert.match(await statOf(page, "coffeetl-sales", "Latest sale (freshness)"), /No data/);
      assert.equal(problems, []);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, "dashboards-empty.png"), fullPage: true });
    } finally {
      await empty.close();
      await rm(home, { recursive: true, force: true });
      await browser.close();
    }
  });
}

test.run();
