// One self-contained HTML page showing dashboard runs: Grafana's 24-column grid, the panels' data as
// JSON, echarts and the drawing script inlined, so the file opens offline from disk.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { rfc3339 } from "./interpolate.js";
import type { DashboardRun } from "./run.js";

const require = createRequire(import.meta.url);

/** Grafana's grid row height and margin, in pixels. */
const ROW_PX = 30;
const GAP_PX = 8;

const escapeHtml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** JSON safe inside a <script> element. */
const scriptJson = (value: unknown): string =>
  JSON.stringify(value).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");

const inlineScript = (code: string): string => code.replace(/<\/script/gi, "<\\/script");

export interface PreviewMeta {
  /** Where the data came from, e.g. the warehouse folder. */
  source: string;
  generatedAt: Date;
}

function describeMetric(t: Record<string, unknown>): string {
  const dims = Object.entries((t.dimensions as Record<string, unknown>) ?? {})
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join("|") : String(v)}`)
    .join(", ");
  return `${t.namespace ?? "?"} ${t.metricName ?? "?"} (${t.statistic ?? "?"}) ${dims}`;
}

export function renderPreview(runs: DashboardRun[], meta: PreviewMeta): string {
  const echartsCode = readFileSync(require.resolve("echarts/dist/echarts.min.js"), "utf8");
  const client = readFileSync(new URL("./preview-client.js", import.meta.url), "utf8");
  const dashboards = runs.map((run, di) => ({
    uid: run.dashboard.uid ?? `dashboard-${di}`,
    panels: run.panels.map((p, pi) => ({
      domId: `panel-${di}-${p.panel.id ?? pi}`,
      type: p.panel.type,
      kind: p.kind,
      fieldConfig: { defaults: p.panel.fieldConfig?.defaults ?? {}, overrides: p.panel.fieldConfig?.overrides ?? [] },
      options: p.panel.options ?? {},
      frames: p.frames,
      errors: p.errors,
      metrics: p.kind === "cloudwatch" ? (p.panel.targets ?? []).map((t) => describeMetric(t)) : [],
    })),
  }));

  const sections = runs.map((run, di) => {
    const d = run.dashboard;
    const vars = run.variables
      .map((v) => {
        const shown = v.value.all ? `All (${v.value.values.join(", ")})` : v.value.values.join(", ");
        return `<span class="var"><b>${escapeHtml(v.label)}</b> ${escapeHtml(shown)}</span>`;
      })
      .join(" ");
    const problems = run.errors.length
      ? `<pre class="dash-error">${escapeHtml(run.errors.join("\n"))}</pre>`
      : "";
    const panels = run.panels
      .map((p, pi) => {
        const g = p.panel.gridPos ?? { x: 0, y: 0, w: 24, h: 8 };
        const id = `panel-${di}-${p.panel.id ?? pi}`;
        const style = `grid-column:${g.x + 1} / span ${g.w};grid-row:${g.y + 1} / span ${g.h}`;
        const unit = p.panel.fieldConfig?.defaults?.unit ?? "";
        return `<div class="panel" id="${id}" data-panel-id="${p.panel.id ?? pi}" data-panel-type="${escapeHtml(p.panel.type ?? "")}" data-panel-kind="${p.kind}" data-panel-unit="${escapeHtml(unit)}" data-panel-status="pending" style="${style}">
  <h3 title="${escapeHtml(p.panel.description ?? "")}">${escapeHtml(p.panel.title ?? "")}</h3>
  <div class="panel-body"></div>
</div>`;
      })
      .join("\n");
    return `<section class="dashboard" id="${escapeHtml(d.uid ?? `dashboard-${di}`)}" data-dashboard-uid="${escapeHtml(d.uid ?? "")}">
<h2>${escapeHtml(d.title ?? "")}</h2>
${d.description ? `<p class="desc">${escapeHtml(d.description)}</p>` : ""}
<p class="meta"><span class="range">${escapeHtml(rfc3339(run.range.from))} → ${escapeHtml(rfc3339(run.range.to))}</span>
<span class="anchor">(default range ${escapeHtml(d.time?.from ?? "")} … ${escapeHtml(d.time?.to ?? "")}, with “now” = ${escapeHtml(run.anchor.reason)})</span> ${vars}</p>
${problems}
<div class="grid">
${panels}
</div>
</section>`;
  });

  const nav = runs
    .map((r, di) => `<a href="#${escapeHtml(r.dashboard.uid ?? `dashboard-${di}`)}">${escapeHtml(r.dashboard.title ?? "")}</a>`)
    .join(" · ");

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>CoffeETL dashboards preview</title>
<style>
:root { color-scheme: dark; }
body { margin: 0; background: #111217; color: #ccccdc; font: 14px/1.4 Inter, "Helvetica Neue", Arial, sans-serif; }
header { padding: 12px 16px; background: #181b1f; border-bottom: 1px solid #2c3235; }
header h1 { margin: 0 0 4px; font-size: 18px; color: #fff; }
header p { margin: 0; font-size: 12px; color: #8e8e8e; }
header a { color: #6e9fff; }
.dashboard { padding: 8px 16px 24px; }
.dashboard h2 { color: #fff; font-size: 20px; margin: 12px 0 2px; }
.desc, .meta { margin: 2px 0; font-size: 12px; color: #9fa7b3; }
.var { margin-left: 12px; padding: 2px 6px; background: #22252b; border: 1px solid #34373d; border-radius: 2px; }
.grid { display: grid; grid-template-columns: repeat(24, minmax(0, 1fr)); grid-auto-rows: ${ROW_PX}px; gap: ${GAP_PX}px; margin-top: 10px; }
.panel { background: #181b1f; border: 1px solid #2c3235; border-radius: 2px; display: flex; flex-direction: column; min-width: 0; overflow: hidden; }
.panel h3 { margin: 0; padding: 6px 8px; font-size: 13px; font-weight: 500; color: #ccccdc; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.panel-body { flex: 1; min-height: 0; position: relative; overflow: auto; }
.stat-value { font-size: 32px; font-weight: 500; color: #73bf69; padding: 0 12px; }
.stat-value[data-color="orange"] { color: #ff9830; } .stat-value[data-color="red"] { color: #f2495c; } .stat-value[data-color="yellow"] { color: #fade2a; }
.stat-sub { font-size: 11px; color: #8e8e8e; padding: 0 12px; }
table.grid-table { width: 100%; border-collapse: collapse; font-size: 12px; }
.grid-table th { position: sticky; top: 0; background: #22252b; text-align: left; padding: 4px 8px; font-weight: 500; }
.grid-table td { padding: 3px 8px; border-top: 1px solid #2c3235; white-space: nowrap; }
.grid-table .num { text-align: right; font-variant-numeric: tabular-nums; }
td[data-color="red"] { color: #f2495c; } td[data-color="orange"] { color: #ff9830; } td[data-color="green"] { color: #73bf69; }
.placeholder-title { margin: 8px 12px 4px; padding: 6px 8px; border: 1px dashed #5a5f66; color: #d8d9da; font-weight: 500; }
.placeholder-list { margin: 4px 12px; padding-left: 18px; font-size: 11px; color: #8e8e8e; }
.no-data { padding: 12px; color: #8e8e8e; }
.panel-error, .dash-error { margin: 6px 8px; color: #f2495c; white-space: pre-wrap; font-size: 11px; }
</style>
</head>
<body>
<header>
<h1>CoffeETL dashboards preview</h1>
<p>The provisioned Grafana dashboards, their queries run on ${escapeHtml(meta.source)} at ${escapeHtml(rfc3339(meta.generatedAt))}. Variables at their defaults; CloudWatch panels are shown in Grafana only. ${nav}</p>
</header>
${sections.join("\n")}
<script id="preview-data" type="application/json">${scriptJson({ dashboards })}</script>
<script>${inlineScript(echartsCode)}</script>
<script>${inlineScript(client)}</script>
</body>
</html>
`;
}
