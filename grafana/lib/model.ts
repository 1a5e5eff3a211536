// The parts of Grafana's dashboard JSON and provisioning files that CoffeETL's checker and preview read.
// Dashboards stay plain Grafana JSON (grafana/dashboards/*.json); these types only describe them.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repository's grafana/ folder: one up from grafana/lib/ when run from source, but the CLI bundle
 * runs this code from dist/cli/, two below the repository root.
 */
export const GRAFANA_DIR =
  [fileURLToPath(new URL("..", import.meta.url)), fileURLToPath(new URL("../../grafana/", import.meta.url))].find((dir) =>
    existsSync(join(dir, "lib", "preview-client.js")),
  ) ?? fileURLToPath(new URL("..", import.meta.url));
export const DASHBOARDS_DIR = join(GRAFANA_DIR, "dashboards");
export const DATASOURCES_DIR = join(GRAFANA_DIR, "provisioning", "datasources");

export const REDSHIFT_TYPE = "grafana-redshift-datasource";
export const CLOUDWATCH_TYPE = "cloudwatch";

export interface DataSourceRef {
  type?: string;
  uid?: string;
}

/** A Redshift plugin query: `format` 0 = time series, 1 = table. */
export interface RedshiftTarget {
  refId?: string;
  datasource?: DataSourceRef;
  rawSQL?: string;
  format?: number;
}

export interface CloudWatchTarget {
  refId?: string;
  datasource?: DataSourceRef;
  namespace?: string;
  metricName?: string;
  dimensions?: Record<string, string | string[]>;
  statistic?: string;
  label?: string;
}

export type Target = RedshiftTarget & CloudWatchTarget & Record<string, unknown>;

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface FieldOverride {
  matcher: { id: string; options?: unknown };
  properties: { id: string; value?: unknown }[];
}

export interface Panel {
  id?: number;
  type?: string;
  title?: string;
  description?: string;
  datasource?: DataSourceRef | string | null;
  gridPos?: GridPos;
  fieldConfig?: {
    defaults?: Record<string, unknown> & {
      unit?: string;
      decimals?: number;
      thresholds?: { mode?: string; steps?: { color: string; value: number | null }[] };
    };
    overrides?: FieldOverride[];
  };
  options?: Record<string, unknown>;
  targets?: Target[];
  panels?: Panel[];
}

export interface VariableOption {
  text?: string | string[];
  value?: string | string[];
  selected?: boolean;
}

export interface Variable {
  type?: string;
  name?: string;
  label?: string;
  datasource?: DataSourceRef | string | null;
  /** A query variable's query: for the Redshift plugin a `{ rawSQL, format }` object; a string for textbox/custom/constant. */
  query?: string | (RedshiftTarget & Record<string, unknown>);
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string | null;
  /** 0 shown, 1 label hidden, 2 variable hidden. */
  hide?: number;
  current?: VariableOption;
  options?: VariableOption[];
}

export interface Dashboard {
  uid?: string;
  title?: string;
  description?: string;
  timezone?: string;
  time?: { from?: string; to?: string };
  templating?: { list?: Variable[] };
  panels?: Panel[];
  __inputs?: unknown;
  [key: string]: unknown;
}

export interface DashboardFile {
  file: string;
  /** The raw text, for checks on the text itself (placeholders). */
  text: string;
  dashboard?: Dashboard;
  parseError?: string;
}

export interface ProvisionedDataSource {
  file: string;
  name?: string;
  uid?: string;
  type?: string;
  editable?: string;
  jsonData: Record<string, string>;
}

/** Shown first wherever the dashboards are listed together (the preview): what a client opens it for. */
const FIRST = ["sales.json"];

/** Reads every `*.json` of a folder, Sales first, then by name; unparseable files are returned with their error. */
export function readDashboards(dir = DASHBOARDS_DIR): DashboardFile[] {
  const rank = (name: string) => (FIRST.includes(name) ? FIRST.indexOf(name) : FIRST.length);
  return readdirSync(dir)
    .filter((name) => name.endsWith(".json"))
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map((name) => readDashboard(join(dir, name)));
}

export function readDashboard(file: string): DashboardFile {
  const text = readFileSync(file, "utf8");
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return { file, text, parseError: "not a JSON object" };
    return { file, text, dashboard: parsed as Dashboard };
  } catch (error) {
    return { file, text, parseError: (error as Error).message };
  }
}

/**
 * Reads the data sources of Grafana provisioning files (`apiVersion: 1`, `datasources:` list).
 * A deliberately small reader for the flat shape these files use (scalars, one `jsonData` map);
 * it keeps values as written, `${VAR}` included, since Grafana expands them at startup.
 */
export function readProvisionedDataSources(files: string[]): ProvisionedDataSource[] {
  const out: ProvisionedDataSource[] = [];
  for (const file of files) {
    const lines = readFileSync(file, "utf8").split(/\r?\n/);
    let inList = false;
    let current: ProvisionedDataSource | undefined;
    let itemIndent = -1;
    let mapKey: string | undefined;
    let mapIndent = -1;
    for (const raw of lines) {
      const line = raw.replace(/\s+#.*$/, "").replace(/^\s*#.*$/, "");
      if (!line.trim()) continue;
      const indent = line.length - line.trimStart().length;
      if (indent === 0) {
        inList = /^datasources:\s*$/.test(line);
        current = undefined;
        continue;
      }
      if (!inList) continue;
      const item = /^(\s*)-\s+(.*)$/.exec(line);
      let body = line.trim();
      if (item) {
        current = { file, jsonData: {} };
        out.push(current);
        itemIndent = (item[1] ?? "").length + 2;
        body = item[2] ?? "";
        mapKey = undefined;
      } else if (!current) continue;
      const kv = /^([A-Za-z_][\w.]*):\s*(.*)$/.exec(body);
      if (!kv || !current) continue;
      const key = kv[1] ?? "";
      const value = unquote(kv[2] ?? "");
      const effIndent = item ? itemIndent : indent;
      if (mapKey && effIndent > mapIndent) {
        if (mapKey === "jsonData") current.jsonData[key] = value;
        continue;
      }
      mapKey = undefined;
      if (value === "") {
        mapKey = key;
        mapIndent = effIndent;
        continue;
      }
      if (key === "name" || key === "uid" || key === "type" || key === "editable") current[key] = value;
    }
  }
  return out;
}

function unquote(value: string): string {
  const v = value.trim();
  if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) return v.slice(1, -1);
  return v;
}

export function provisioningFiles(dir = DATASOURCES_DIR): string[] {
  return readdirSync(dir)
    .filter((n) => /\.ya?ml$/.test(n))
    .sort()
    .map((n) => join(dir, n));
}

/** Panels in display order, rows' nested panels included. */
export function allPanels(dashboard: Dashboard): Panel[] {
  const out: Panel[] = [];
  for (const p of dashboard.panels ?? []) {
    out.push(p);
    for (const child of p.panels ?? []) out.push(child);
  }
  return out;
}

export function refOf(ds: DataSourceRef | string | null | undefined): DataSourceRef | undefined {
  if (!ds) return undefined;
  if (typeof ds === "string") return { uid: ds };
  return ds;
}

export function isRedshift(target: Target, panel: Panel): boolean {
  const ref = refOf(target.datasource) ?? refOf(panel.datasource);
  return ref?.type === REDSHIFT_TYPE;
}

export function isCloudWatch(target: Target, panel: Panel): boolean {
  const ref = refOf(target.datasource) ?? refOf(panel.datasource);
  return ref?.type === CLOUDWATCH_TYPE;
}
