// What Grafana and the Redshift plugin do to a query's text before Redshift sees it, in their order:
// 1. Grafana (frontend, template service) replaces dashboard variables: `$name`, `${name}`,
//    `${name:format}`, `[[name]]`; the plugin's applyTemplateVariables quotes multi-values for SQL.
// 2. The plugin backend (sqlds) expands its macros with the query's time range:
//    `$__timeFilter(col)` → `col BETWEEN '<from>' AND '<to>'` (RFC 3339, UTC, whole seconds),
//    `$__timeGroup(col, '1h')` → `floor(extract(epoch from col)/3600)*3600 AS "time"`, and the others
//    from grafana/redshift-datasource pkg/redshift/macros.go. Arguments are split on commas and trimmed,
//    and the argument list ends at the first `)`, exactly like sqlds' `\$__name(?:\((.*?)\))?`.

import { zoneOffsetMs } from "../../functions/core/zone-time.js";

export interface TimeRange {
  from: Date;
  to: Date;
}

/** A variable's resolved value: one value, or several (multi-select, All). */
export interface VariableValue {
  values: string[];
  multi: boolean;
  /** True when All is selected: Grafana then passes every option (no `allValue` is set here). */
  all?: boolean;
  /** The options' display texts, when a query variable returns `text` and `value` columns (`${name:text}`). */
  texts?: string[];
}

export type VariableValues = Map<string, VariableValue>;

/** Variables Grafana defines itself; they never need a definition in the dashboard. */
export const isBuiltinVariable = (name: string): boolean => name.startsWith("__");

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Parses Grafana's relative time (`now`, `now-30d`, `now-6h/h`, `now/d`) against `now`, or an
 * absolute ISO time. Rounding (`/d`) is done in UTC, since the dashboards use `timezone: utc`.
 */
export function parseGrafanaTime(text: string, now: Date): Date {
  const t = text.trim();
  if (!t.startsWith("now")) {
    const d = new Date(t);
    if (Number.isNaN(d.getTime())) throw new Error(`cannot read time ${JSON.stringify(text)}`);
    return d;
  }
  let ms = now.getTime();
  let rest = t.slice(3);
  const re = /^([+-])(\d+)([smhdwMy])|^\/([smhdwMy])/;
  while (rest) {
    const m = re.exec(rest);
    if (!m) throw new Error(`cannot read relative time ${JSON.stringify(text)}`);
    if (m[4]) {
      ms = roundDown(ms, m[4]);
    } else {
      const n = Number(m[2]) * (m[1] === "-" ? -1 : 1);
      const unit = m[3] ?? "";
      if (unit === "M" || unit === "y") {
        // Calendar months and years, the day clamped to the month's end (as moment, which Grafana uses).
        const d = new Date(ms);
        const months = d.getUTCMonth() + (unit === "M" ? n : 12 * n);
        const y = d.getUTCFullYear() + Math.floor(months / 12);
        const m = ((months % 12) + 12) % 12;
        const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
        ms = Date.UTC(y, m, Math.min(d.getUTCDate(), last), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
      } else ms += n * (UNIT_MS[unit] ?? 0);
    }
    rest = rest.slice(m[0].length);
  }
  return new Date(ms);
}

function roundDown(ms: number, unit: string): number {
  const d = new Date(ms);
  switch (unit) {
    case "y":
      return Date.UTC(d.getUTCFullYear(), 0, 1);
    case "M":
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    case "w": {
      const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      return day - ((d.getUTCDay() + 6) % 7) * UNIT_MS.d!; // weeks start on Monday (weekStart)
    }
    default:
      return ms - (ms % (UNIT_MS[unit] ?? 1));
  }
}

export function timeRangeOf(time: { from?: string; to?: string } | undefined, now: Date): TimeRange {
  return { from: parseGrafanaTime(time?.from ?? "now-6h", now), to: parseGrafanaTime(time?.to ?? "now", now) };
}

/** Go's `time.Format(time.RFC3339)` of a UTC time: whole seconds, `Z`. */
export const rfc3339 = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/** Grafana's interval syntax for `$__timeGroup` (gtime.ParseInterval), in seconds. */
export function intervalSeconds(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(text.trim().replace(/^'|'$/g, ""));
  if (!m) throw new Error(`error parsing interval ${text}`);
  const n = Number(m[1]);
  return m[2] === "ms" ? n / 1000 : (n * (UNIT_MS[m[2] ?? ""] ?? 0)) / 1000;
}

type Macro = (args: string[], range: TimeRange) => string;

const one = (name: string, args: string[]): string => {
  if (args.length !== 1 || !args[0]) throw new Error(`macro $__${name}: expected 1 argument, received ${args[0] ? args.length : 0}`);
  return args[0];
};

/** The Redshift plugin's macros (pkg/redshift/macros.go). */
export const MACROS: Record<string, Macro> = {
  timeEpoch: (args) => `extract(epoch from ${one("timeEpoch", args)}) as "time"`,
  timeFilter: (args, r) => `${one("timeFilter", args)} BETWEEN '${rfc3339(r.from)}' AND '${rfc3339(r.to)}'`,
  timeFrom: (_args, r) => `'${rfc3339(r.from)}'`,
  timeTo: (_args, r) => `'${rfc3339(r.to)}'`,
  timeGroup: (args) => {
    if (args.length !== 2) throw new Error("macro $__timeGroup needs time column and interval");
    const s = intervalSeconds(args[1] ?? "");
    return `floor(extract(epoch from ${args[0]})/${s})*${s} AS "time"`;
  },
  unixEpochFilter: (args, r) => {
    const col = one("unixEpochFilter", args);
    return `${col} >= ${Math.floor(r.from.getTime() / 1000)} AND ${col} <= ${Math.floor(r.to.getTime() / 1000)}`;
  },
  unixEpochGroup: (args) => {
    if (args.length !== 2) throw new Error("macro $__unixEpochGroup needs time column and interval");
    const s = intervalSeconds(args[1] ?? "");
    return `floor(${args[0]}/${s})*${s} AS "time"`;
  },
};

/** Expands the plugin's macros; an unknown `$__name` left in the SQL is an error (Redshift would fail on it). */
export function expandMacros(sql: string, range: TimeRange): string {
  let out = sql;
  for (const [name, macro] of Object.entries(MACROS)) {
    const re = new RegExp(`\\$__${name}(?:\\((.*?)\\))?`, "g");
    for (const match of [...out.matchAll(re)]) {
      const args = match[1] === undefined ? [""] : match[1].split(",").map((a) => a.trim());
      out = out.split(match[0]).join(macro(args, range));
    }
  }
  const left = /\$__(\w+)/.exec(out);
  if (left) throw new Error(`unknown macro $__${left[1]} (the Redshift plugin defines ${Object.keys(MACROS).join(", ")})`);
  return out;
}

/** `$name`, `${name}`, `${name:format}`, `[[name]]`, `[[name:format]]`: Grafana's variable syntaxes. */
const VARIABLE_RE = /\$(\w+)|\$\{(\w+)(?:\.[\w.]+)?(?::([^}]+))?\}|\[\[(\w+)(?::(\w+))?\]\]/g;

/** Names of the dashboard variables a text refers to (Grafana's own `__` variables and macros excluded). */
export function variableReferences(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(VARIABLE_RE)) {
    const name = m[1] ?? m[2] ?? m[4] ?? "";
    if (name && !isBuiltinVariable(name)) names.add(name);
  }
  return [...names];
}

/** The Redshift plugin's quoting of multi-values (@grafana/aws-sdk applySQLTemplateVariables): `'` doubled. */
const sqlQuote = (v: string): string => `'${v.replace(/'/g, "''")}'`;

/**
 * Grafana's `sqlstring` format (scenes' formatRegistry sqlStringFormatter): `'` doubled and `"`
 * written `\"`. It leaves `\` alone, so on Redshift (where `\` escapes inside a literal) a value
 * holding one can end the literal: the dashboards pass only warehouse-made hex ids through it.
 */
const sqlString = (v: string): string => `'${v.replace(/'|"/g, (m) => (m === "'" ? "''" : '\\"'))}'`;

function formatValue(value: VariableValue, format: string | undefined, forSql: boolean): string {
  const vs = value.values;
  switch (format) {
    case "sqlstring":
      return vs.map(sqlString).join(",");
    case "singlequote":
      return vs.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(",");
    case "doublequote":
      return vs.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(",");
    case "csv":
    case "raw":
      return vs.join(",");
    case "pipe":
      return vs.join("|");
    case "text":
      // The display texts, joined as Grafana joins them (` + `).
      return (value.texts ?? vs).join(" + ");
    case "json":
      // A single string as it is; several as a JSON array.
      return vs.length === 1 && !value.multi ? (vs[0] ?? "") : JSON.stringify(vs);
    case undefined:
      // The plugin's applyTemplateVariables: a multi-value or All variable becomes quoted SQL
      // literals; a single value is inserted as it is.
      if (forSql && (value.multi || value.all)) return vs.map(sqlQuote).join(",");
      // Grafana's default (glob): `{a,b}` for several values, the value itself for one.
      return vs.length > 1 ? `{${vs.join(",")}}` : (vs[0] ?? "");
    default:
      throw new Error(`unsupported variable format :${format}`);
  }
}

/**
 * Replaces dashboard variables as Grafana does before the query is sent. Throws on a variable that
 * is not defined (Grafana would leave it in the text, and the query would fail or mean something else).
 */
export function interpolateVariables(text: string, values: VariableValues, options: { forSql?: boolean } = {}): string {
  return text.replace(VARIABLE_RE, (whole, a?: string, b?: string, format?: string, c?: string, format2?: string) => {
    const name = a ?? b ?? c ?? "";
    if (isBuiltinVariable(name)) return whole;
    const value = values.get(name);
    if (!value) throw new Error(`undefined variable $${name}`);
    return formatValue(value, format ?? format2, options.forSql ?? false);
  });
}

/** Variables, then macros: the SQL Redshift (or the local PostgreSQL) runs for a Redshift query. */
export function renderSql(rawSQL: string, values: VariableValues, range: TimeRange): string {
  return expandMacros(interpolateVariables(rawSQL, values, { forSql: true }), range);
}

/** The UTC instant of a wall-clock time in `timeZone` (the later one in an autumn fold). */
export function wallClockToUtc(wall: { y: number; mo: number; d: number; h?: number; mi?: number; s?: number }, timeZone: string): Date {
  const naive = Date.UTC(wall.y, wall.mo - 1, wall.d, wall.h ?? 0, wall.mi ?? 0, wall.s ?? 0);
  let ms = naive - zoneOffsetMs(naive, timeZone);
  ms = naive - zoneOffsetMs(ms, timeZone);
  return new Date(ms);
}

/**
 * A time as `coffeetl dashboards --from/--to` (and Grafana's URL) take it: relative (`now-7d`),
 * epoch milliseconds, a date or a date and time without zone (read in the dashboard's `timeZone`),
 * or an ISO time with a zone.
 */
export function parseTimeInput(text: string, now: Date, timeZone: string): Date {
  const t = text.trim();
  if (t.startsWith("now")) return parseGrafanaTime(t, now);
  if (/^\d{12,}$/.test(t)) return new Date(Number(t));
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(t);
  if (m) return wallClockToUtc({ y: +m[1]!, mo: +m[2]!, d: +m[3]!, h: +(m[4] ?? 0), mi: +(m[5] ?? 0), s: +(m[6] ?? 0) }, timeZone);
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) throw new Error(`cannot read time ${JSON.stringify(text)}: use now-7d, 2024-03-01, "2024-03-01 09:00" or epoch milliseconds`);
  return d;
}

/** `2024-03-01 09:00` in `timeZone`. */
export function formatWallClock(d: Date, timeZone: string): string {
  return new Date(d.getTime() + zoneOffsetMs(d.getTime(), timeZone)).toISOString().slice(0, 16).replace("T", " ");
}
