// Runs a dashboard's variable and panel queries on a warehouse the way Grafana would on Redshift:
// variables resolved in order (defaults, All = every option), macros expanded for the time range,
// each result turned into a data frame and checked against the shape its panel type needs.
// Used by the offline checker (tests) and by `coffeetl dashboards` (the HTML preview).
import { COLUMNS, LOADS_COLUMNS, TABLES } from "../../functions/core/schema.js";
import { zoneOffsetMs } from "../../functions/core/zone-time.js";
import {
  expandMacros,
  interpolateVariables,
  parseTimeInput,
  renderSql,
  wallClockToUtc,
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
  /** The queries ran and returned nothing to show: Grafana shows "No data" (not an error). */
  empty: boolean;
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
  /** Each option's display text (the option itself unless the query returned `text` and `value`). */
  texts: string[];
}

export interface DashboardRun {
  dashboard: Dashboard;
  range: TimeRange;
  /** Why this range: given, the data's whole history, or the dashboard's default. */
  rangeReason: string;
  /** The dashboard's time zone (Grafana's `timezone`; `utc` when unset). */
  timeZone: string;
  /** The instant `now` stood for, and why (see `anchorFor`). */
  anchor: { now: Date; reason: string };
  /** The oldest and newest instants the dashboard's time filters find, when there is data. */
  span?: { first: Date; last: Date };
  variables: ResolvedVariable[];
  panels: PanelRun[];
  /** Problems outside panels (variables, time range). */
  errors: string[];
  /** `variables` given that this dashboard does not define (another dashboard may). */
  unknownVariables: string[];
}

export interface RunOptions {
  /** Overrides `now`. By default `now` is anchored to the newest data the dashboard filters on. */
  now?: Date;
  /**
   * The time range, as Grafana's URL takes it (`now-7d`, epoch ms, `2024-03-01`, `2024-03-01 09:00` in
   * the dashboard's time zone). Default: the data's whole history (or the dashboard's own default
   * range when there is no data).
   */
  from?: string;
  to?: string;
  /** Variable values by name, as Grafana's `var-<name>` URL parameters (`$__all` for All). */
  variables?: Record<string, string[]>;
}

const TABLE_OF_COLUMN: Map<string, string> = (() => {
  const m = new Map<string, string>();
  for (const t of TABLES) for (const c of COLUMNS[t]) if (!m.has(c)) m.set(c, t);
  for (const c of LOADS_COLUMNS) if (!m.has(c)) m.set(c, "loads");
  return m;
})();

/** The expressions a dashboard's `$__timeFilter`s filter on, each with the table it reads. */
function filteredTimes(dashboard: Dashboard): { expr: string; table: string; label: string }[] {
  const found = new Map<string, { expr: string; table: string; label: string }>();
  for (const panel of allPanels(dashboard))
    for (const t of panel.targets ?? [])
      for (const m of (t.rawSQL ?? "").matchAll(/\$__timeFilter\(([^)]*)\)/g)) {
        const expr = (m[1] ?? "").trim().replace(/\b[A-Za-z_]\w*\.(?=[A-Za-z_])/g, ""); // drop table aliases
        const column = /^[A-Za-z_]\w*/.exec(expr)?.[0] ?? "";
        const table = TABLE_OF_COLUMN.get(column);
        if (table && !found.has(expr)) found.set(expr, { expr, table, label: `${table}.${column}` });
      }
  return [...found.values()].sort((a, b) => a.label.localeCompare(b.label));
}

/**
 * The oldest and newest instants of the data a dashboard's time filters see (the filtered
 * expressions are UTC: naive till times are converted in the SQL itself).
 */
export async function dataSpan(dashboard: Dashboard, db: QueryRunner): Promise<{ first: Date; last: Date; label: string } | undefined> {
  let span: { first: Date; last: Date; label: string } | undefined;
  for (const { expr, table, label } of filteredTimes(dashboard)) {
    // TO_CHAR keeps the timestamp as written, whatever the driver's time zone handling.
    const rows = await db.query<{ first: string | null; last: string | null }>(
      `SELECT TO_CHAR(MIN(${expr}), 'YYYY-MM-DD"T"HH24:MI:SS') AS first, TO_CHAR(MAX(${expr}), 'YYYY-MM-DD"T"HH24:MI:SS') AS last FROM ${table}`,
    );
    const r = rows[0];
    if (!r?.first || !r.last) continue;
    const first = new Date(`${r.first}Z`);
    const last = new Date(`${r.last}Z`);
    if (!span) span = { first, last, label };
    else span = { first: first < span.first ? first : span.first, last: last > span.last ? last : span.last, label: last > span.last ? label : span.label };
  }
  return span;
}

/**
 * The instant a dashboard's relative range (`now-30d` … `now`) is computed from, offline: the newest
 * data its time filters see (transactions for Sales, loads for Pipeline health), as Grafana's wall
 * clock would be the moment after that data was loaded. Falls back to the wall clock when empty.
 */
export async function anchorFor(dashboard: Dashboard, db: QueryRunner): Promise<{ now: Date; reason: string }> {
  const span = await dataSpan(dashboard, db);
  return span ? { now: span.last, reason: `latest ${span.label}` } : { now: new Date(), reason: "wall clock (no data)" };
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
    else if (
      present.length &&
      present.every((v) => typeof v === "number" || typeof v === "bigint" || (typeof v === "string" && /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(v)))
    )
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
    if (f.length === 0) continue; // "No data" (see isEmpty)
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
        if (f.length === 1 && f.fields.every((x) => x.values[0] === null)) break; // NULL: "No data" (see isEmpty)
        if (f.length !== 1) errors.push(`${tag}stat needs exactly one row, got ${f.length}`);
        if (!numbers.length) errors.push(`${tag}stat needs a numeric column`);
        // A NULL value is "No data" (see isEmpty).
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

/** What Grafana shows as "No data": no rows at all, or a stat whose value is NULL. */
export function isEmpty(panel: Panel, frames: Frame[]): boolean {
  if (frames.every((f) => f.length === 0)) return true;
  if (panel.type === "stat") {
    return frames.every((f) => f.fields.every((x) => x.values[0] === null || x.values[0] === undefined));
  }
  return false;
}

function optionValues(v: Variable): string[] {
  return (v.options ?? []).flatMap((o) => (Array.isArray(o.value) ? o.value : o.value !== undefined ? [o.value] : []));
}

function currentValues(v: Variable): string[] {
  const c = v.current?.value;
  return Array.isArray(c) ? c : c !== undefined ? [c] : [];
}

async function resolveVariable(v: Variable, values: VariableValues, range: TimeRange, db: QueryRunner, chosenValues?: string[]): Promise<ResolvedVariable> {
  const name = v.name ?? "";
  let options: string[];
  let texts: string[] | undefined;
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
        throw new Error(`variable $${name}: ${(error as Error).message}`, { cause: error });
      }
      let rows: Record<string, unknown>[];
      try {
        rows = await db.query(sql);
      } catch (error) {
        throw new Error(`variable $${name}: query failed: ${(error as Error).message}`, { cause: error });
      }
      // Grafana's toMetricFindValues: string columns named `text` and `value` (any case) give each
      // option its display text and the value queries get; otherwise the first string column is both.
      const frame = toFrame("var", rows);
      const named = (n: string) => frame.fields.find((f) => f.name.toLowerCase() === n && f.type === "string");
      const first = frame.fields.find((f) => f.type === "string") ?? frame.fields[0];
      const valueField = named("value") ?? named("text") ?? first;
      const textField = named("text") ?? valueField;
      const seen = new Map<string, string>();
      (valueField?.values ?? []).forEach((v, i) => {
        if (v !== null && !seen.has(String(v))) seen.set(String(v), String(textField?.values[i] ?? v));
      });
      options = [...seen.keys()];
      texts = [...seen.values()];
      if (!options.length) throw new Error(`variable $${name}: query returned no values`);
      break;
    }
    case "custom":
      options = String(v.query ?? "")
        .split(/(?<!\\),/)
        .map((s) => s.trim())
        .filter(Boolean);
      break;
    case "textbox":
    case "constant": {
      const current = currentValues(v);
      options = [current[0] ?? (typeof v.query === "string" ? v.query : "")];
      break;
    }
    case "interval":
      options = String(v.query ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      break;
    default:
      throw new Error(`variable $${name}: type ${JSON.stringify(v.type)} is not supported offline`);
  }
  const free = v.type === "textbox" || v.type === "constant";
  const textOf = new Map(options.map((o, i) => [o, texts?.[i] ?? o]));
  if (chosenValues) {
    // As Grafana reads `var-<name>` from a URL: an option's value or its text.
    const byText = new Map(options.map((o) => [textOf.get(o)!, o]));
    chosenValues = chosenValues.map((c) => (options.includes(c) ? c : (byText.get(c) ?? c)));
    const unknown = chosenValues.filter((c) => c !== "$__all" && !options.includes(c) && !free);
    if (unknown.length)
      throw new Error(
        `variable $${name}: ${unknown.map((u) => JSON.stringify(u)).join(", ")} is not one of its values (${options.map((o) => textOf.get(o)).join(", ")})`,
      );
    if (chosenValues.includes("$__all") && !v.includeAll) throw new Error(`variable $${name} has no All option`);
    if (free) options = [chosenValues[0] ?? ""];
  }
  const current = chosenValues ?? currentValues(v);
  const all = Boolean(v.includeAll) && (current.length === 0 || current.includes("$__all"));
  let chosen: string[];
  if (all) chosen = options;
  else {
    chosen = current.filter((c) => options.includes(c) || v.type === "textbox" || v.type === "constant");
    if (!chosen.length) chosen = [options[0] ?? ""];
    if (!v.multi) chosen = chosen.slice(0, 1);
  }
  const finalOptions = options.length ? options : optionValues(v);
  return {
    name,
    label: v.label ?? name,
    type: v.type ?? "",
    value: { values: chosen, multi: Boolean(v.multi), all, ...(texts ? { texts: chosen.map((c) => textOf.get(c) ?? c) } : {}) },
    options: finalOptions,
    texts: finalOptions.map((o) => textOf.get(o) ?? o),
  };
}

/** Runs every variable and panel query of a dashboard; problems are collected, never thrown. */
export async function runDashboard(dashboard: Dashboard, db: QueryRunner, options: RunOptions = {}): Promise<DashboardRun> {
  const errors: string[] = [];
  const timeZone = dashboard.timezone && dashboard.timezone !== "browser" ? dashboard.timezone : "utc";
  const span = await dataSpan(dashboard, db);
  const anchor = options.now
    ? { now: options.now, reason: "given" }
    : span
      ? { now: span.last, reason: `latest ${span.label}` }
      : { now: new Date(), reason: "wall clock (no data)" };
  let range: TimeRange;
  let rangeReason: string;
  try {
    if (options.from !== undefined || options.to !== undefined) {
      range = {
        from: parseTimeInput(options.from ?? dashboard.time?.from ?? "now-6h", anchor.now, timeZone),
        to: parseTimeInput(options.to ?? dashboard.time?.to ?? "now", anchor.now, timeZone),
      };
      rangeReason = "given";
      if (range.from >= range.to) throw new Error(`the time range must end after it starts (from ${options.from ?? "default"}, to ${options.to ?? "default"})`);
    } else if (span) {
      // The whole history, in whole days of the dashboard's zone: every sale the warehouse holds is in view.
      const dayOf = (d: Date, plus: number) => {
        const w = new Date(d.getTime() + zoneOffsetMs(d.getTime(), timeZone));
        return wallClockToUtc({ y: w.getUTCFullYear(), mo: w.getUTCMonth() + 1, d: w.getUTCDate() + plus }, timeZone);
      };
      range = { from: dayOf(span.first, 0), to: new Date(dayOf(span.last, 1).getTime() - 1000) };
      rangeReason = `the data's whole history (${span.label})`;
    } else {
      range = timeRangeOf(dashboard.time, anchor.now);
      rangeReason = `the dashboard's default (${dashboard.time?.from ?? "now-6h"} to ${dashboard.time?.to ?? "now"}): no data yet`;
    }
  } catch (error) {
    errors.push((error as Error).message);
    range = timeRangeOf({ from: "now-30d", to: "now" }, anchor.now);
    rangeReason = "fallback (last 30 days)";
  }
  const values: VariableValues = new Map();
  const variables: ResolvedVariable[] = [];
  const unknownVariables = Object.keys(options.variables ?? {}).filter((n) => !(dashboard.templating?.list ?? []).some((v) => v.name === n));
  for (const v of dashboard.templating?.list ?? []) {
    try {
      const resolved = await resolveVariable(v, values, range, db, options.variables?.[v.name ?? ""]);
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
    const run: PanelRun = { panel, kind: "other", empty: false, frames: [], sql: [], errors: [] };
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
    if (!run.errors.length) {
      run.empty = isEmpty(panel, run.frames);
      run.errors.push(...checkShape(panel, run.frames));
    }
  }
  return {
    dashboard,
    range,
    rangeReason,
    timeZone,
    anchor,
    ...(span ? { span: { first: span.first, last: span.last } } : {}),
    variables,
    panels,
    errors,
    unknownVariables,
  };
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
