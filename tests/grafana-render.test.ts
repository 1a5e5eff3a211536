// grafana/lib/render.ts alone: the preview page is one self-contained file (echarts and the drawing
// script inlined), every text from a dashboard is escaped, the data travels as JSON that cannot end its
// <script> element, and panels sit on Grafana's 24-column grid at their gridPos.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GRAFANA_DIR } from "../grafana/lib/model.js";
import { renderPreview, type PreviewData } from "../grafana/lib/render.js";
import type { DashboardRun } from "../grafana/lib/run.js";

const EVIL = `</script><img src=x onerror="alert(1)">`;
const run: DashboardRun = {
  dashboard: { uid: "sales", title: `Sales ${EVIL}`, description: "Daily <b>takings</b>", timezone: "Europe/London", panels: [] } as DashboardRun["dashboard"],
  range: { from: new Date("2024-03-01T00:00:00Z"), to: new Date("2024-03-08T00:00:00Z") },
  rangeReason: "given",
  timeZone: "Europe/London",
  anchor: { now: new Date("2024-03-08T00:00:00Z"), reason: "the newest sale" },
  variables: [
    {
      name: "branch",
      label: "Branch",
      type: "query",
      value: { values: ["1"], multi: true, texts: [`Leeds ${EVIL}`] },
      options: ["1", "2"],
      texts: [`Leeds ${EVIL}`, "York"],
    },
  ],
  panels: [
    {
      panel: { id: 7, type: "stat", title: `Takings ${EVIL}`, gridPos: { x: 12, y: 0, w: 6, h: 4 }, fieldConfig: { defaults: { unit: "currencyGBP" } } },
      empty: false,
      kind: "sql",
      frames: [
        {
          refId: "A",
          length: 1,
          fields: [
            { name: "total", type: "number", values: [12.5] },
            { name: "note", type: "string", values: [EVIL] },
          ],
        },
      ],
      sql: ["SELECT 1"],
      errors: [],
    },
  ],
  errors: [],
  unknownVariables: [],
};
const html = renderPreview([run], { source: `/home/${EVIL}`, generatedAt: new Date("2024-03-08T09:00:00Z") });

test("one self-contained page: echarts and the drawing script inlined, nothing fetched", () => {
  assert.ok(html.startsWith("<!doctype html>"));
  const client = readFileSync(join(GRAFANA_DIR, "lib", "preview-client.js"), "utf8");
  assert.ok(html.includes(`<script>${client}</script>`), "the drawing script, as it is");
  const echarts = readFileSync(createRequire(import.meta.url).resolve("echarts/dist/echarts.min.js"), "utf8");
  assert.ok(html.includes(echarts.slice(0, 2000)), "echarts");
  assert.not.match(html, /<script[^>]+src=/);
  assert.not.match(html, /<link[^>]+href="https?:/);
});

test("every dashboard text is escaped: no markup from a title, description, variable, source or value gets through", () => {
  assert.not.match(html, "<img src=x");
  assert.not.match(html, "<b>takings</b>");
  assert.match(html, "Sales &lt;/script&gt;&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
  assert.match(html, "Daily &lt;b&gt;takings&lt;/b&gt;");
});

test("the data is JSON the page parses back as it was, and it cannot close its script element", () => {
  const match = /<script id="preview-data" type="application\/json">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(match, "the data element");
  assert.not.match(match![1]!, "</");
  const data = JSON.parse(match![1]!) as PreviewData;
  const [dash] = data.dashboards;
  assert.equal(
    [dash!.uid, dash!.timeZone, dash!.range],
    ["sales", "Europe/London", { from: Date.parse("2024-03-01T00:00:00Z"), to: Date.parse("2024-03-08T00:00:00Z") }],
  );
  const [panel] = dash!.panels;
  assert.equal([panel!.domId, panel!.type, panel!.kind, panel!.empty], ["panel-0-7", "stat", "sql", false]);
  assert.equal(panel!.frames, run.panels[0]!.frames, "values as the queries returned them, markup included");
  assert.equal(panel!.fieldConfig, { defaults: { unit: "currencyGBP" }, overrides: [] });
});

test("panels sit on the 24-column grid at their gridPos, waiting for the script", () => {
  assert.match(
    html,
    /<div class="panel" id="panel-0-7" data-panel-id="7" data-panel-type="stat" data-panel-kind="sql" data-panel-unit="currencyGBP" data-panel-status="pending" style="grid-column:13 \/ span 6;grid-row:1 \/ span 4">/,
  );
  assert.match(html, "grid-template-columns: repeat(24, minmax(0, 1fr))");
});

test("a static page says how to render another range; a served one that its controls re-run", () => {
  assert.match(html, 'data-live="false"');
  assert.match(html, "coffeetl dashboards --serve");
  assert.match(renderPreview([run], { source: "x", generatedAt: new Date(), live: true }), 'data-live="true"');
});

test.run();
