// Issue 5: `coffeetl dashboards` writes one self-contained HTML page of the provisioned dashboards
// from the local warehouse; headless Chromium opens it offline and every SQL panel draws.
// Screenshot: tests/artifacts/dashboards.png (gitignored).
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { dashboardsCommand, renderDashboardsPage } from "../cli/dashboards.js";
import { allPanels, readDashboards } from "../grafana/lib/model.js";
import { FIXTURES, generatedWarehouse, type TestWarehouse } from "./fixtures/grafana/warehouse.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = new URL("./artifacts/", import.meta.url).pathname;
const dashboards = readDashboards().map((f) => f.dashboard!);

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

test("dashboardsCommand writes one self-contained page with every dashboard and panel", async () => {
  const logged: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => (logged.push(String(chunk)), true)) as typeof process.stdout.write;
  try {
    await dashboardsCommand({ home: warehouse!.home, out });
  } finally {
    process.stdout.write = write;
  }
  assert.match(logged.join(""), /2 dashboards, \d+ panels from the warehouse, 3 CloudWatch placeholders\n$/);
  const html = readFileSync(out, "utf8");
  for (const d of dashboards) assert.ok(html.includes(`data-dashboard-uid="${d.uid}"`), `${d.uid} in the page`);
  const panelCount = dashboards.reduce((n, d) => n + allPanels(d).length, 0);
  assert.is((html.match(/class="panel" id=/g) ?? []).length, panelCount);
  // Offline: no external scripts, styles or fonts.
  assert.not.match(html, /<script[^>]+src=|<link[^>]+href="http|@import|url\(http/i);
  assert.ok(html.includes("echarts"), "echarts is inlined");
});

if (!existsSync(CHROMIUM)) {
  console.log(`[skip] chromium not installed at ${CHROMIUM}`);
} else {
  test("headless Chromium: no console errors, every dashboard title shown, every SQL panel drew", async () => {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
      const problems: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
      page.on("request", (r) => {
        if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) problems.push(`network request: ${r.url()}`);
      });
      await page.goto(pathToFileURL(out).href);
      await page.waitForSelector("body[data-preview-ready=true]", { timeout: 15_000 });

      const headings = await page.$$eval(".dashboard h2", (hs) => hs.map((h) => h.textContent));
      assert.equal(headings, dashboards.map((d) => d.title));
      const panels = await page.$$eval(".panel", (ps) =>
        ps.map((p) => ({
          title: p.querySelector("h3")?.textContent ?? "",
          kind: p.getAttribute("data-panel-kind"),
          type: p.getAttribute("data-panel-type"),
          status: p.getAttribute("data-panel-status"),
          canvas: p.querySelectorAll("canvas").length,
          rows: p.querySelectorAll("tbody tr").length,
          stat: p.querySelector(".stat-value")?.textContent ?? "",
          text: p.textContent ?? "",
          height: p.querySelector(".panel-body")?.getBoundingClientRect().height ?? 0,
        })),
      );
      const sql = panels.filter((p) => p.kind === "sql");
      assert.ok(sql.length >= 15);
      for (const p of sql) {
        assert.is(p.status, "ok", `${p.title}: ${p.text.slice(0, 300)}`);
        assert.ok(p.height > 40, `${p.title} has room to draw`);
        if (p.type === "table") assert.ok(p.rows > 0, `${p.title} has table rows`);
        else if (p.type === "stat") assert.match(p.stat, /\d|ago|just now/, `${p.title} shows a value`);
        else assert.ok(p.canvas > 0, `${p.title} drew an echarts canvas`);
      }
      const cw = panels.filter((p) => p.kind === "cloudwatch");
      assert.is(cw.length, 3);
      for (const p of cw) {
        assert.is(p.status, "placeholder");
        assert.ok(p.text.includes("CloudWatch: shown in Grafana only"));
      }
      assert.ok(panels.find((p) => p.title === "Revenue")!.stat.startsWith("£"));
      assert.equal(problems, []);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, "dashboards.png"), fullPage: true });
      assert.ok(existsSync(join(ARTIFACTS, "dashboards.png")));

      // The same page code marks a failing panel as failed, with its error.
      const broken = await browser.newPage();
      await broken.goto(pathToFileURL(brokenPage).href);
      await broken.waitForSelector("body[data-preview-ready=true]", { timeout: 15_000 });
      const statuses = await broken.$$eval(".panel", (ps) => ps.map((p) => `${p.querySelector("h3")?.textContent}=${p.getAttribute("data-panel-status")}`));
      assert.ok(statuses.includes("Broken SQL=error"), statuses.join(", "));
      assert.ok(statuses.includes("Undefined variable=error"), statuses.join(", "));
      assert.ok(statuses.includes("Time series without a time column=error"), statuses.join(", "));
      assert.match(await broken.textContent("body") ?? "", /syntax error at or near "SELEC"/);
    } finally {
      await browser.close();
    }
  });
}

test.run();
