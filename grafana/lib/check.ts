// Offline verification of the provisioned dashboards (issue 5): what Grafana would reject or show
// broken, found without Grafana. `checkStructure` reads the files; `checkQueries` runs every variable
// and panel query on a warehouse holding data. Both return readable problems, never throw.
import { basename } from "node:path";
import { timeRangeOf, variableReferences } from "./interpolate.js";
import { allPanels, CLOUDWATCH_TYPE, REDSHIFT_TYPE, refOf, type DashboardFile, type Panel, type ProvisionedDataSource, type Variable } from "./model.js";
import { macrosExpand, runDashboard, type DashboardRun, type QueryRunner, type RunOptions } from "./run.js";

export const GRID_COLUMNS = 24;
export const PANEL_TYPES = new Set(["stat", "timeseries", "piechart", "barchart", "table", "row"]);
const VARIABLE_TYPES = new Set(["query", "custom", "textbox", "constant", "interval"]);
const UID_RE = /^[a-z0-9][a-z0-9-]{0,39}$/;

/**
 * PostgreSQL features Redshift lacks (or spells differently): a query using one would pass the local
 * checks and fail in Grafana. Redshift is based on PostgreSQL 8.0, so this list is what bites in practice.
 */
export const NOT_ON_REDSHIFT: readonly [RegExp, string][] = [
  [/::/, "`::` casts (write CAST(x AS type))"],
  [/\bFILTER\s*\(\s*WHERE\b/i, "aggregate FILTER (WHERE ...) (use SUM(CASE WHEN ...))"],
  [/\bgenerate_series\s*\(/i, "generate_series (not supported by Redshift)"],
  [/\bDISTINCT\s+ON\b/i, "DISTINCT ON (use ROW_NUMBER())"],
  [/\b(STRING_AGG|ARRAY_AGG|JSONB?_AGG)\s*\(/i, "PostgreSQL-only aggregates (Redshift has LISTAGG)"],
  [/\bLATERAL\b/i, "LATERAL joins"],
  [/\bdate_bin\s*\(/i, "date_bin (use $__timeGroup or DATE_TRUNC)"],
  [/\bILIKE\s+ANY\b|\bANY\s*\(\s*ARRAY\b/i, "ANY(ARRAY[...]) (use IN (...))"],
];

export function portabilityProblems(sql: string): string[] {
  return NOT_ON_REDSHIFT.filter(([re]) => re.test(sql)).map(([, why]) => `SQL not portable to Redshift: ${why}`);
}

const label = (f: DashboardFile): string => f.dashboard?.uid ?? basename(f.file);
const panelLabel = (p: Panel): string => `panel ${JSON.stringify(p.title ?? `#${p.id ?? "?"}`)}`;

function checkDatasource(where: string, ds: unknown, byUid: Map<string, ProvisionedDataSource>, errors: string[]): void {
  const ref = refOf(ds as never);
  if (!ref?.uid) {
    errors.push(`${where}: no data source uid (every panel must name a provisioned data source)`);
    return;
  }
  if (/^\$\{?DS_/.test(ref.uid)) {
    errors.push(`${where}: data source ${ref.uid} is an import placeholder`);
    return;
  }
  const provisioned = byUid.get(ref.uid);
  if (!provisioned) {
    errors.push(`${where}: data source uid ${JSON.stringify(ref.uid)} is not provisioned (known: ${[...byUid.keys()].join(", ")})`);
    return;
  }
  if (ref.type && ref.type !== provisioned.type) errors.push(`${where}: data source ${ref.uid} has type ${provisioned.type}, not ${ref.type}`);
}

/** Structure: JSON, uids, data sources, variables defined before use, grid, titles, units, query models. */
export function checkStructure(files: DashboardFile[], datasources: ProvisionedDataSource[]): string[] {
  const errors: string[] = [];
  const byUid = new Map<string, ProvisionedDataSource>();
  for (const ds of datasources) {
    if (!ds.uid) errors.push(`${basename(ds.file)}: data source ${JSON.stringify(ds.name)} has no fixed uid`);
    else if (byUid.has(ds.uid) && byUid.get(ds.uid)!.file !== ds.file) errors.push(`data source uid ${ds.uid} is provisioned twice`);
    else byUid.set(ds.uid, ds);
    if (ds.editable !== "false") errors.push(`${basename(ds.file)}: data source ${ds.uid} must be editable: false`);
    if (ds.jsonData.authType !== "default") errors.push(`${basename(ds.file)}: data source ${ds.uid} must use the instance role (jsonData.authType: default)`);
  }
  const uids = new Map<string, string>();
  for (const f of files) {
    const d = f.dashboard;
    if (!d) {
      errors.push(`${basename(f.file)}: not valid JSON: ${f.parseError}`);
      continue;
    }
    const at = label(f);
    if ("__inputs" in d || "__requires" in d) errors.push(`${at}: has __inputs/__requires import sections (not for provisioning)`);
    if (/\$\{DS_[A-Z0-9_]*\}/.test(f.text)) errors.push(`${at}: contains \${DS_...} import placeholders`);
    if (!d.uid) errors.push(`${basename(f.file)}: dashboard has no uid`);
    else if (!UID_RE.test(d.uid)) errors.push(`${at}: uid must be 1-40 of a-z, 0-9, - (stable links)`);
    else if (uids.has(d.uid)) errors.push(`${at}: uid also used by ${uids.get(d.uid)}`);
    else uids.set(d.uid, basename(f.file));
    if ("id" in d && d.id !== null) errors.push(`${at}: remove the numeric "id" (Grafana assigns it)`);
    if (!d.title?.trim()) errors.push(`${at}: dashboard has no title`);
    // The viewer's browser zone would shift every till time by the viewer's offset.
    if (!d.timezone || d.timezone === "browser") errors.push(`${at}: set an explicit "timezone" (e.g. Europe/London), not the viewer's browser zone`);
    try {
      timeRangeOf(d.time, new Date());
    } catch (error) {
      errors.push(`${at}: time range: ${(error as Error).message}`);
    }

    // Variables: defined once, each using only variables defined before it.
    const list: Variable[] = d.templating?.list ?? [];
    const defined = new Set<string>();
    const all = new Set(list.map((v) => v.name ?? ""));
    for (const v of list) {
      const name = v.name ?? "";
      const where = `${at}: variable $${name}`;
      if (!name) errors.push(`${at}: a variable has no name`);
      if (defined.has(name)) errors.push(`${where} is defined twice`);
      if (!VARIABLE_TYPES.has(v.type ?? "")) errors.push(`${where}: type ${JSON.stringify(v.type)} is not supported`);
      if (v.type === "query") {
        checkDatasource(where, v.datasource, byUid, errors);
        const q = v.query;
        const sql = typeof q === "string" ? q : q?.rawSQL;
        if (!sql?.trim()) errors.push(`${where}: empty query`);
        else if (refOf(v.datasource)?.type === REDSHIFT_TYPE) {
          const bad = macrosExpand(sql, { from: new Date(0), to: new Date(0) });
          if (bad) errors.push(`${where}: ${bad}`);
          for (const e of portabilityProblems(sql)) errors.push(`${where}: ${e}`);
        }
      }
      for (const ref of variableReferences(JSON.stringify({ query: v.query, regex: (v as Record<string, unknown>).regex ?? "" }))) {
        if (ref === name) errors.push(`${where} refers to itself`);
        else if (!all.has(ref)) errors.push(`${where}: undefined variable $${ref}`);
        else if (!defined.has(ref)) errors.push(`${where}: uses $${ref}, which is defined after it`);
      }
      defined.add(name);
    }

    // Panels.
    const ids = new Set<number>();
    const placed: { p: Panel; x: number; y: number; w: number; h: number }[] = [];
    for (const p of allPanels(d)) {
      const where = `${at}: ${panelLabel(p)}`;
      if (typeof p.id !== "number") errors.push(`${where}: no numeric id`);
      else if (ids.has(p.id)) errors.push(`${where}: id ${p.id} is used twice`);
      else ids.add(p.id);
      if (!p.title?.trim()) errors.push(`${where}: no title`);
      if (!PANEL_TYPES.has(p.type ?? "")) errors.push(`${where}: panel type ${JSON.stringify(p.type)} is not supported`);
      const g = p.gridPos;
      if (!g || ![g.x, g.y, g.w, g.h].every((n) => Number.isInteger(n))) errors.push(`${where}: no gridPos {x,y,w,h}`);
      else {
        if (g.x < 0 || g.y < 0 || g.w < 1 || g.h < 1 || g.x + g.w > GRID_COLUMNS)
          errors.push(`${where}: gridPos x=${g.x} w=${g.w} is outside the ${GRID_COLUMNS}-column grid`);
        for (const o of placed)
          if (g.x < o.x + o.w && o.x < g.x + g.w && g.y < o.y + o.h && o.y < g.y + g.h) errors.push(`${where}: overlaps ${panelLabel(o.p)}`);
        placed.push({ p, ...g });
      }
      if (p.type === "row") continue;
      if (!p.fieldConfig?.defaults?.unit) errors.push(`${where}: no unit (fieldConfig.defaults.unit)`);
      // Without thresholds Grafana colours a stat green below 80 and red from 80 (its default).
      if (p.type === "stat" && !(p.fieldConfig?.defaults?.thresholds?.steps ?? []).length)
        errors.push(`${where}: stat has no thresholds (Grafana's default turns it red from 80)`);
      checkDatasource(where, p.datasource, byUid, errors);
      const targets = p.targets ?? [];
      if (!targets.length) errors.push(`${where}: no queries`);
      const panelUid = refOf(p.datasource)?.uid;
      for (const t of targets) {
        const tw = `${where} query ${t.refId ?? "?"}`;
        if (!t.refId) errors.push(`${tw}: no refId`);
        if (t.datasource) {
          checkDatasource(tw, t.datasource, byUid, errors);
          if (refOf(t.datasource)?.uid !== panelUid) errors.push(`${tw}: data source differs from the panel's (mixed panels are not used)`);
        }
        const type = byUid.get(refOf(t.datasource)?.uid ?? panelUid ?? "")?.type;
        if (type === REDSHIFT_TYPE) {
          if (!t.rawSQL?.trim()) errors.push(`${tw}: empty rawSQL`);
          else {
            const bad = macrosExpand(t.rawSQL, { from: new Date(0), to: new Date(0) });
            if (bad) errors.push(`${tw}: ${bad}`);
            for (const e of portabilityProblems(t.rawSQL)) errors.push(`${tw}: ${e}`);
          }
          if (t.format !== 0 && t.format !== 1) errors.push(`${tw}: format must be 0 (time series) or 1 (table)`);
          if (p.type === "timeseries" && t.format !== 0) errors.push(`${tw}: a time series panel needs format 0 (time series)`);
        } else if (type === CLOUDWATCH_TYPE) {
          for (const k of ["namespace", "metricName", "statistic"] as const) if (!t[k]) errors.push(`${tw}: CloudWatch query has no ${k}`);
          if (!t.dimensions || !Object.keys(t.dimensions).length) errors.push(`${tw}: CloudWatch query has no dimensions`);
        }
      }
      for (const ref of variableReferences(JSON.stringify({ title: p.title, targets, datasource: p.datasource }))) {
        if (!all.has(ref)) errors.push(`${where}: undefined variable $${ref}`);
      }
    }
  }
  return errors;
}

export interface QueryCheck {
  errors: string[];
  runs: { file: string; run: DashboardRun }[];
}

/** Runs every variable and panel query of every dashboard on `db`; see `runDashboard`. */
export async function checkQueries(files: DashboardFile[], db: QueryRunner, options: RunOptions = {}): Promise<QueryCheck> {
  const errors: string[] = [];
  const runs: QueryCheck["runs"] = [];
  for (const f of files) {
    if (!f.dashboard) continue;
    const run = await runDashboard(f.dashboard, db, options);
    runs.push({ file: f.file, run });
    const at = label(f);
    for (const e of run.errors) errors.push(`${at}: ${e}`);
    for (const p of run.panels) {
      for (const e of p.errors) errors.push(`${at}: ${panelLabel(p.panel)}: ${e}`);
      // On a warehouse holding data, every panel must show something, unless it says what empty
      // means (a `noValue` text such as "No failed files": nothing to list is the good case).
      if (p.kind === "sql" && !p.errors.length && p.empty && !p.panel.fieldConfig?.defaults?.noValue)
        errors.push(`${at}: ${panelLabel(p.panel)}: returned no rows`);
    }
  }
  return { errors, runs };
}
