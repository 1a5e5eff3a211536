// One self-contained HTML page showing dashboard runs: Grafana's 24-column grid, the panels' data as
// JSON, echarts and the drawing script inlined, so the file opens offline from disk.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { formatWallClock, rfc3339 } from "./interpolate.js";
import { GRAFANA_DIR, type FieldOverride, type Panel } from "./model.js";
import type { DashboardRun, Frame, PanelRun } from "./run.js";

const require = createRequire(import.meta.url);

/** Grafana's grid row height and margin, in pixels. */
const ROW_PX = 30;
const GAP_PX = 8;

const escapeHtml = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** JSON safe inside a <script> element. */
const scriptJson = (value: unknown): string =>
  JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");

const inlineScript = (code: string): string => code.replace(/<\/script/gi, "<\\/script");

/** The JSON the page carries in `<script id="preview-data">`, which preview-client.js draws. */
export interface PreviewData {
  dashboards: {
    uid: string;
    timeZone: string;
    /** Epoch milliseconds. */
    range: { from: number; to: number };
    panels: {
      /** The panel element's id. */
      domId: string;
      type: string | undefined;
      kind: PanelRun["kind"];
      empty: boolean;
      fieldConfig: { defaults: NonNullable<NonNullable<Panel["fieldConfig"]>["defaults"]>; overrides: FieldOverride[] };
      options: Record<string, unknown>;
      frames: Frame[];
      errors: string[];
      /** CloudWatch panels: each target described, for the placeholder. */
      metrics: string[];
    }[];
  }[];
}

export interface PreviewMeta {
  /** Where the data came from, e.g. the warehouse folder. */
  source: string;
  generatedAt: Date;
  /** True when served by `coffeetl dashboards --serve`: the controls re-run the queries. */
  live?: boolean;
  /** The range and variables asked for (the controls show them). */
  asked?: { from?: string; to?: string; variables?: Record<string, string[]> };
}

/** The page's controls: Grafana's time range and the visible variables, as one GET form (Grafana's URL parameters). */
function renderControls(runs: DashboardRun[], meta: PreviewMeta): string {
  const first = runs[0];
  const tz = first?.timeZone ?? "utc";
  // Empty fields: each dashboard's default, the data's whole history (its range line shows it).
  const from = meta.asked?.from ?? "";
  const to = meta.asked?.to ?? "";
  const seen = new Set<string>();
  const variables = runs.flatMap((r) =>
    r.variables
      .filter((v) => {
        const def = (r.dashboard.templating?.list ?? []).find((x) => x.name === v.name);
        if (seen.has(v.name) || def?.hide === 2 || v.type === "constant") return false;
        seen.add(v.name);
        return true;
      })
      .map((v) => ({ v, def: (r.dashboard.templating?.list ?? []).find((x) => x.name === v.name) })),
  );
  const selects = variables
    .map(({ v, def }) => {
      const multiple = def?.multi ? " multiple" : "";
      const size = def?.multi ? ` size="${Math.min(6, v.options.length + (def?.includeAll ? 1 : 0))}"` : "";
      const all = def?.includeAll ? `<option value="$__all"${v.value.all ? " selected" : ""}>All</option>` : "";
      // Grafana's URL carries an option's value (a branch's id); the list shows its text.
      const options = v.options
        .map(
          (o, i) =>
            `<option value="${escapeHtml(o)}" data-text="${escapeHtml(v.texts[i] ?? o)}"${!v.value.all && v.value.values.includes(o) ? " selected" : ""}>${escapeHtml(v.texts[i] ?? o)}</option>`,
        )
        .join("");
      return `<label class="control">${escapeHtml(v.label)} <select name="var-${escapeHtml(v.name)}" data-variable="${escapeHtml(v.name)}"${multiple}${size}>${all}${options}</select></label>`;
    })
    .join("\n");
  const spans = runs.filter((r) => r.span).map((r) => r.span!);
  const history = spans.length
    ? `${formatWallClock(new Date(Math.min(...spans.map((s) => s.first.getTime()))), tz)} → ${formatWallClock(new Date(Math.max(...spans.map((s) => s.last.getTime()))), tz)}`
    : "no data yet";
  return `<form id="controls" class="controls" method="get" action="" data-live="${meta.live ? "true" : "false"}">
<label class="control">From <input name="from" value="${escapeHtml(from)}" placeholder="whole history" title="now-7d, 2024-03-01, 2024-03-01 09:00 (UK time) or epoch ms" size="18"></label>
<label class="control">To <input name="to" value="${escapeHtml(to)}" placeholder="newest data" title="now, 2024-03-31, 2024-03-31 18:00 (UK time) or epoch ms" size="18"></label>
<span class="presets"><button type="button" data-from="" data-to="">Whole history</button><button type="button" data-from="now-7d" data-to="now">Last 7 days</button><button type="button" data-from="now-30d" data-to="now">Last 30 days</button></span>
${selects}
<span class="tz">Time zone: ${escapeHtml(tz === "Europe/London" ? "UK time (Europe/London)" : tz)} · data: ${escapeHtml(history)}</span>
<button type="submit" id="apply">Apply</button>
<pre id="command" hidden></pre>
</form>`;
}

function describeMetric(t: Record<string, unknown>): string {
  const dims = Object.entries((t.dimensions as Record<string, unknown>) ?? {})
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join("|") : String(v)}`)
    .join(", ");
  return `${t.namespace ?? "?"} ${t.metricName ?? "?"} (${t.statistic ?? "?"}) ${dims}`;
}

export function renderPreview(runs: DashboardRun[], meta: PreviewMeta): string {
  const echartsCode = readFileSync(require.resolve("echarts/dist/echarts.min.js"), "utf8");
  const client = readFileSync(join(GRAFANA_DIR, "lib", "preview-client.js"), "utf8");
  const dashboards: PreviewData["dashboards"] = runs.map((run, di) => ({
    uid: run.dashboard.uid ?? `dashboard-${di}`,
    timeZone: run.timeZone,
    range: { from: run.range.from.getTime(), to: run.range.to.getTime() },
    panels: run.panels.map((p, pi) => ({
      domId: `panel-${di}-${p.panel.id ?? pi}`,
      type: p.panel.type,
      kind: p.kind,
      empty: p.empty,
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
      .filter((v) => v.type !== "constant")
      .map((v) => {
        const texts = v.value.texts ?? v.value.values;
        const shown = v.value.all ? `All (${texts.join(", ")})` : texts.join(", ");
        return `<span class="var"><b>${escapeHtml(v.label)}</b> ${escapeHtml(shown)}</span>`;
      })
      .join(" ");
    const problems = run.errors.length ? `<pre class="dash-error">${escapeHtml(run.errors.join("\n"))}</pre>` : "";
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
<p class="meta"><span class="range" data-from="${escapeHtml(rfc3339(run.range.from))}" data-to="${escapeHtml(rfc3339(run.range.to))}">${escapeHtml(formatWallClock(run.range.from, run.timeZone))} → ${escapeHtml(formatWallClock(run.range.to, run.timeZone))} (${escapeHtml(run.timeZone)})</span>
<span class="anchor">${escapeHtml(run.rangeReason)}; relative times count from “now” = ${escapeHtml(run.anchor.reason)}</span> ${vars}</p>
${problems}
<div class="grid">
${panels}
</div>
</section>`;
  });

  const nav = runs.map((r, di) => `<a href="#${escapeHtml(r.dashboard.uid ?? `dashboard-${di}`)}">${escapeHtml(r.dashboard.title ?? "")}</a>`).join(" · ");

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
.controls { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 14px; padding: 8px 16px; background: #181b1f; border-bottom: 1px solid #2c3235; font-size: 12px; }
.controls input, .controls select, .controls button { background: #111217; color: #ccccdc; border: 1px solid #34373d; border-radius: 2px; padding: 3px 6px; font: inherit; }
.controls button { cursor: pointer; } .controls #apply { background: #3d71d9; color: #fff; border-color: #3d71d9; }
.controls .tz { color: #9fa7b3; } .controls select[multiple] { vertical-align: middle; min-width: 160px; }
#command { flex-basis: 100%; margin: 0; padding: 6px; background: #22252b; white-space: pre-wrap; }
.var { margin-left: 12px; padding: 2px 6px; background: #22252b; border: 1px solid #34373d; border-radius: 2px; }
.grid { display: grid; grid-template-columns: repeat(24, minmax(0, 1fr)); grid-auto-rows: ${ROW_PX}px; gap: ${GAP_PX}px; margin-top: 10px; }
.panel { background: #181b1f; border: 1px solid #2c3235; border-radius: 2px; display: flex; flex-direction: column; min-width: 0; overflow: hidden; }
.panel h3 { margin: 0; padding: 6px 8px; font-size: 13px; font-weight: 500; color: #ccccdc; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.panel-body { flex: 1; min-height: 0; position: relative; overflow: auto; }
.stat-value { font-size: 32px; font-weight: 500; color: #73bf69; padding: 0 12px; }
.stat-value[data-color="text"] { color: #ccccdc; } .stat-value[data-color="blue"] { color: #5794f2; }
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
.with-legend { display: flex; overflow: hidden; } .with-legend .plot { flex: 1; min-width: 0; } .with-legend .legend { flex: 0 0 auto; overflow: auto; border-left: 1px solid #2c3235; }
.legend-table td, .legend-table th { padding: 2px 6px; } .legend-table tr { cursor: pointer; } .legend-table tr.dimmed { opacity: 0.45; }
.legend-name { max-width: 180px; overflow: hidden; text-overflow: ellipsis; } .swatch { display: inline-block; width: 14px; height: 4px; margin: 0 6px 3px 0; border-radius: 2px; vertical-align: middle; }
.stat-value { white-space: nowrap; overflow: hidden; }
.panel-error, .dash-error { margin: 6px 8px; color: #f2495c; white-space: pre-wrap; font-size: 11px; }
</style>
</head>
<body>
<header>
<h1>CoffeETL dashboards preview</h1>
<p>The provisioned Grafana dashboards, their queries run on ${escapeHtml(meta.source)} at ${escapeHtml(rfc3339(meta.generatedAt))}. ${meta.live ? "The controls below re-run them." : "A static page: the controls show the command that renders another range or branch (or run <code>coffeetl dashboards --serve</code> for live controls)."} CloudWatch panels are shown in Grafana only. ${nav}</p>
</header>
${renderControls(runs, meta)}
${sections.join("\n")}
<script id="preview-data" type="application/json">${scriptJson({ dashboards })}</script>
<script>${inlineScript(echartsCode)}</script>
<script>${inlineScript(client)}</script>
</body>
</html>
`;
}
