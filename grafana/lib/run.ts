// Runs a dashboard's variable and panel queries on a warehouse the way Grafana would on Redshift:
// variables resolved in order (defaults, All = every option), macros expanded for the time range,
// each result turned into a data frame and checked against the shape its panel type needs.
// Used by the offline checker (tests) and by `coffeetl dashboards` (the HTML preview).
import { COLUMNS, LOADS_COLUMNS, TABLES } from "../../functions/core/schema.js";
import {
  expandMacros,
  interpolateVariables,
  renderSql,
  timeRangeOf,
  type TimeRange,
  type VariableValue,
  type VariableValues,
} from "./interpolate.js";
import { allPanels, isCloudWatch, isRedshift, refOf, type Dashboard, type Panel, type Target, type Variable } from "./model.js";

/** The one thing the checker needs from a warehouse (see functions/app/ports.ts `Warehouse.query`). */
export interface QueryRunner {
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
}

export type FieldType = "time" | "number" | "string" | "boolean";

/** A column of a result, as Grafana's data frames hold it. Times are epoch milliseconds. */
export interface Field {
  name: string;
  type: FieldType;
  values: (string | number | boolean | null)[];
}

export interface Frame {
  refId: string;
  fields: Field[];
  length: number;
}

export interface PanelRun {
  panel: Panel;
  /** `sql`: every target is a Redshift query; `cloudwatch`: shown in Grafana only. */
  kind: "sql" | "cloudwatch" | "other";
  frames: Frame[];
  /** The SQL each target ran, after variables and macros. */
  sql: string[];
  errors: string[];
}

export interface ResolvedVariable {
  name: string;
  label: string;
  type: string;
  value: VariableValue;
  options: string[];
}

export interface DashboardRun {
  dashboard: Dashboard;
  range: TimeRange;
  /** The instant `now` stood for, and why (see `anchorFor`). */
  anchor: { now: Date; reason: string };
  variables: ResolvedVariable[];
  panels: PanelRun[];
  /** Problems outside panels (variables, time range). */
  errors: string[];
}

export interface RunOptions {
  /** Overrides `now`. By default `now` is anchored to the newest data the dashboard filters on. */
  now?: Date;
}

const TABLE_OF_COLUMN: Map<string, string> = (() => {
  const m = new Map<string, string>();
  for (const t of TABLES) for (const c of COLUMNS[t]) if (!m.has(c)) m.set(c, t);
  for (const c of LOADS_COLUMNS) if (!m.has(c)) m.set(c, "loads");
  return m;
})();

/**
 * The instant a dashboard's relative range (`now-30d` … `now`) is computed from, offline.
 * Grafana uses the wall clock; locally that would show nothing for sample data from past dates, so
 * `now` becomes the newest value of the timestamp columns the dashboard's `$__timeFilter`s filter on
 * (transactions.transaction_time for Sales, loads.loaded_at for Pipeline health): the dashboard's
 * default range then ends at the latest sale (or load), as it would in Grafana the moment after it
 * was loaded. Falls back to the wall clock when those tables are empty.
 */
export async function anchorFor(dashboard: Dashboard, db: QueryRunner): Promise<{ now: Date; reason: string }> {
  const columns = new Set<string>();
  for (const panel of allPanels(dashboard))
    for (const t of panel.targets ?? [])
      for (const m of (t.rawSQL ?? "").matchAll(/\$__timeFilter\(([^)]*)\)/g)) {
        const col = (m[1] ?? "").trim().split(".").pop() ?? "";
        if (TABLE_OF_COLUMN.has(col)) columns.add(col);
      }
  let best: Date | undefined;
  let reason = "wall clock (no data)";
  for (const col of [...columns].sort()) {
    const table = TABLE_OF_COLUMN.get(col)!;
    // TO_CHAR keeps the naive timestamp as written, whatever the driver's time zone handling.
    const rows = await db.query<{ latest: string | null }>(
      `SELECT TO_CHAR(MAX(${col}), 'YYYY-MM-DD"T"HH24:MI:SS') AS latest FROM ${table}`,
    );
    const latest = rows[0]?.latest;
    if (!latest) continue;
    const d = new Date(`${latest}Z`);
    if (!best || d > best) {
      best = d;
      reason = `latest ${table}.${col}`;
    }
  }
  return { now: best ?? new Date(), reason };
}

/** A TIMESTAMP as text (the local warehouse keeps it so): naive, read as UTC like the plugin does. */
const TIMESTAMP_TEXT = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/** Turns driver rows into a frame: types per column, naive timestamps kept as written (as UTC). */
export function toFrame(refId: string, rows: Record<string, unknown>[]): Frame {
  const names = rows.length ? Object.keys(rows[0]!) : [];
  const fields: Field[] = names.map((name) => {
    const raw = rows.map((r) => r[name]);
    const present = raw.filter((v) => v !== null && v !== undefined);
    let type: FieldType = "string";
    if (present.length && present.every((v) => v instanceof Date || (typeof v === "string" && TIMESTAMP_TEXT.test(v)))) type = "time";
    else if (present.length && present.every((v) => typeof v === "number" || typeof v === "bigint" || (typeof v === "string" && /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(v))))
      type = name === "time" ? "time" : "number";
    else if (present.length && present.every((v) => typeof v === "boolean")) type = "boolean";
    const values = raw.map((v): string | number | boolean | null => {
      if (v === null || v === undefined) return null;
      if (v instanceof Date) {
        // pg and PGlite read TIMESTAMP (no zone) as local time; Redshift's plugin reads it as UTC.
        return Date.UTC(v.getFullYear(), v.getMonth(), v.getDate(), v.getHours(), v.getMinutes(), v.getSeconds(), v.getMilliseconds());
      }
      if (type === "time" && typeof v === "string" && TIMESTAMP_TEXT.test(v)) return Date.parse(`${v.replace(" ", "T")}Z`);
      if (type === "time") {
        const n = Number(v); // $__timeGroup yields epoch seconds
        return n < 1e11 ? n * 1000 : n;
      }
      if (type === "number") return Number(v);
      if (typeof v === "boolean") return v;
      return String(v);
    });
    return { name, type, values };
  });
  return { refId, fields, length: rows.length };
}

/** What a panel type needs from its frames; returns the problems found. */
export function checkShape(panel: Panel, frames: Frame[]): string[] {
  const errors: string[] = [];
  for (const f of frames) {
    const tag = frames.length > 1 ? `query ${f.refId}: ` : "";
    const numbers = f.fields.filter((x) => x.type === "number");
    const strings = f.fields.filter((x) => x.type === "string");
    if (f.length === 0) {
      errors.push(`${tag}returned no rows`);
      continue;
    }
    switch (panel.type) {
      case "timeseries": {
        const time = f.fields.find((x) => x.name === "time");
        if (!time) errors.push(`${tag}time series needs a "time" column (use $__timeGroup), got ${f.fields.map((x) => x.name).join(", ")}`);
        else if (time.type !== "time") errors.push(`${tag}column "time" is not a time`);
        else {
          const ts = time.values as (number | null)[];
          if (ts.some((v) => v === null)) errors.push(`${tag}column "time" has empty values`);
          else if (ts.some((v, i) => i > 0 && (v as number) < (ts[i - 1] as number))) errors.push(`${tag}rows are not ordered by time (ORDER BY 1)`);
        }
        if (!numbers.length) errors.push(`${tag}time series needs a numeric value column`);
        break;
      }
      case "stat":
        if (f.length !== 1) errors.push(`${tag}stat needs exactly one row, got ${f.length}`);
        if (!numbers.length) errors.push(`${tag}stat needs a numeric column`);
        else if (numbers.every((x) => x.values[0] === null)) errors.push(`${tag}stat value is empty (NULL)`);
        break;
      case "piechart":
      case "barchart":
        if (!strings.length) errors.push(`${tag}${panel.type} needs a text column for the names`);
        if (!numbers.length) errors.push(`${tag}${panel.type} needs a numeric column for the values`);
        break;
      case "table":
        if (!f.fields.length) errors.push(`${tag}table has no columns`);
        break;
      default:
        errors.push(`panel type ${JSON.stringify(panel.type)} is not supported by the checker and preview`);
    }
  }
  return errors;
}

function optionValues(v: Variable): string[] {
  return (v.options ?? []).flatMap((o) => (Array.isArray(o.value) ? o.value : o.value !== undefined ? [o.value] : []));
}

function currentValues(v: Variable): string[] {
  const c = v.current?.value;
  return Array.isArray(c) ? c : c !== undefined ? [c] : [];
}

async function resolveVariable(v: Variable, values: VariableValues, range: TimeRange, db: QueryRunner): Promise<ResolvedVariable> {
  const name = v.name ?? "";
  let options: string[];
  switch (v.type) {
    case "query": {
      if (refOf(v.datasource)?.type !== "grafana-redshift-datasource") throw new Error(`variable $${name}: only Redshift query variables can be run offline`);
      const q = v.query;
      const rawSQL = typeof q === "string" ? q : (q?.rawSQL ?? "");
      if (!rawSQL.trim()) throw new Error(`variable $${name}: empty query`);
      let sql: string;
      try {
        sql = renderSql(rawSQL, values, range);
      } catch (error) {
        throw new Error(`variable $${name}: ${(error as Error).message}`);
      }
      let rows: Record<string, unknown>[];
      try {
        rows = await db.query(sql);
      } catch (error) {
        throw new Error(`variable $${name}: query failed: ${(error as Error).message}`);
      }
      const frame = toFrame("var", rows);
      const field = frame.fields.find((f) => f.name === "__value") ?? frame.fields[0];
      options = [...new Set((field?.values ?? []).filter((x) => x !== null).map(String))];
      if (!options.length) throw new Error(`variable $${name}: query returned no values`);
      break;
    }
    case "custom":
      options = String(v.query ?? "").split(/(?<!\\),/).map((s) => s.trim()).filter(Boolean);
      break;
    case "textbox":
    case "constant": {
      const current = currentValues(v);
      options = [current[0] ?? (typeof v.query === "string" ? v.query : "")];
      break;
    }
    case "interval":
      options = String(v.query ?? "").split(",").map((s) => s.trim()).filter(Boolean);
      break;
    default:
      throw new Error(`variable $${name}: type ${JSON.stringify(v.type)} is not supported offline`);
  }
  const current = currentValues(v);
  const all = Boolean(v.includeAll) && (current.length === 0 || current.includes("$__all"));
  let chosen: string[];
  if (all) chosen = options;
  else {
    chosen = current.filter((c) => options.includes(c) || v.type === "textbox" || v.type === "constant");
    if (!chosen.length) chosen = [options[0] ?? ""];
    if (!v.multi) chosen = chosen.slice(0, 1);
  }
  return { name, label: v.label ?? name, type: v.type ?? "", value: { values: chosen, multi: Boolean(v.multi), all }, options: options.length ? options : optionValues(v) };
}

/** Runs every variable and panel query of a dashboard; problems are collected, never thrown. */
export async function runDashboard(dashboard: Dashboard, db: QueryRunner, options: RunOptions = {}): Promise<DashboardRun> {
  const errors: string[] = [];
  const anchor = options.now ? { now: options.now, reason: "given" } : await anchorFor(dashboard, db);
  let range: TimeRange;
  try {
    range = timeRangeOf(dashboard.time, anchor.now);
  } catch (error) {
    errors.push((error as Error).message);
    range = timeRangeOf({ from: "now-30d", to: "now" }, anchor.now);
  }
  const values: VariableValues = new Map();
  const variables: ResolvedVariable[] = [];
  for (const v of dashboard.templating?.list ?? []) {
    try {
      const resolved = await resolveVariable(v, values, range, db);
      values.set(resolved.name, resolved.value);
      variables.push(resolved);
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  const panels: PanelRun[] = [];
  for (const panel of allPanels(dashboard)) {
    if (panel.type === "row") continue;
    const targets: Target[] = panel.targets ?? [];
    const run: PanelRun = { panel, kind: "other", frames: [], sql: [], errors: [] };
    panels.push(run);
    if (targets.length && targets.every((t) => isCloudWatch(t, panel))) {
      run.kind = "cloudwatch";
      for (const t of targets) {
        try {
          // Not runnable offline; still, every variable it uses must resolve.
          interpolateVariables(JSON.stringify(t), values);
        } catch (error) {
          run.errors.push(`query ${t.refId ?? "?"}: ${(error as Error).message}`);
        }
      }
      continue;
    }
    if (!targets.length || !targets.every((t) => isRedshift(t, panel))) {
      run.errors.push("panel has no queries, or mixes data sources");
      continue;
    }
    run.kind = "sql";
    for (const t of targets) {
      const refId = t.refId ?? "A";
      let sql: string;
      try {
        sql = renderSql(t.rawSQL ?? "", values, range);
      } catch (error) {
        run.errors.push(`query ${refId}: ${(error as Error).message}`);
        continue;
      }
      run.sql.push(sql);
      try {
        run.frames.push(toFrame(refId, await db.query(sql)));
      } catch (error) {
        run.errors.push(`query ${refId}: SQL failed: ${(error as Error).message}`);
      }
    }
    if (!run.errors.length) run.errors.push(...checkShape(panel, run.frames));
  }
  return { dashboard, range, anchor, variables, panels, errors };
}

/** Checks that the macros of a SQL text expand (no unknown macro, right argument counts). */
export function macrosExpand(sql: string, range: TimeRange): string | undefined {
  try {
    expandMacros(sql, range);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
