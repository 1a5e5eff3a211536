// The repository's grafana/ folder (provisioning, dashboards, the host's sync script), read while the
// program runs: every YAML/JSON/shell file under it becomes one S3 object. Dashboards are stamped with
// the stack name (their hidden `stack` constant), so the Pipeline health panels find this stack's
// functions without a textbox. A missing folder yields no files (and a warning), not an error.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { durationSeconds } from "./grafana-config.js";

export interface GrafanaAsset {
  /** Path relative to the folder, with `/` separators (also the S3 key under `grafana/`). */
  path: string;
  content: string;
  contentType: string;
}

const CONTENT_TYPES: Record<string, string> = {
  ".json": "application/json",
  ".yaml": "application/yaml",
  ".yml": "application/yaml",
  ".sh": "text/x-shellscript",
};
/** Source folders that are not shipped to the host (the preview's code). */
const SKIP = new Set(["lib", "node_modules"]);

/** The warehouse data source (grafana/provisioning/datasources/redshift.yaml). */
const WAREHOUSE_DATASOURCE_UID = "coffeetl-redshift";

/** True when a panel, a target or a variable of the dashboard reads the warehouse data source. */
export function queriesWarehouse(dashboard: unknown): boolean {
  return JSON.stringify(dashboard).includes(`"uid":"${WAREHOUSE_DATASOURCE_UID}"`);
}

/**
 * Sets the dashboard's `stack` constant variable (if it has one) to `stack`, and, when `refresh` is
 * given and the dashboard reads the warehouse, caps its saved auto-refresh at that interval.
 */
export function stampDashboard(content: string, stack: string | undefined, refresh?: string): string {
  let dashboard: { refresh?: string | false; templating?: { list?: Record<string, unknown>[] } };
  try {
    dashboard = JSON.parse(content);
  } catch {
    return content; // shipped as is; the dashboard tests report broken JSON
  }
  let changed = false;
  const variable = stack === undefined ? undefined : dashboard.templating?.list?.find((v) => v.name === "stack" && v.type === "constant");
  if (variable) {
    variable.query = stack;
    variable.current = { text: stack, value: stack };
    variable.options = [{ selected: true, text: stack, value: stack }];
    changed = true;
  }
  const every = refresh === undefined ? undefined : durationSeconds(refresh);
  if (every !== undefined && dashboard.refresh && queriesWarehouse(dashboard)) {
    const saved = durationSeconds(String(dashboard.refresh));
    if (saved === undefined || saved < every) {
      dashboard.refresh = refresh;
      changed = true;
    }
  }
  return changed ? `${JSON.stringify(dashboard, null, 2)}\n` : content;
}

export function readGrafanaAssets(dir: string, options: { stack?: string; refreshInterval?: string } = {}): { files: GrafanaAsset[]; sha256: string } {
  const files: GrafanaAsset[] = [];
  const walk = (current: string) => {
    for (const entry of readdirSync(current).sort()) {
      if (entry.startsWith(".") || SKIP.has(entry)) continue;
      const full = join(current, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (CONTENT_TYPES[extname(entry)]) {
        const path = relative(dir, full).split(sep).join("/");
        let content = readFileSync(full, "utf8");
        if (path.startsWith("dashboards/") && path.endsWith(".json")) content = stampDashboard(content, options.stack, options.refreshInterval);
        files.push({ path, content, contentType: CONTENT_TYPES[extname(entry)]! });
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return { files, sha256: digestOf(files.map((f) => [f.path, f.content])) };
}

/** SHA-256 over (name, content) pairs, in order. */
export function digestOf(parts: [string, string][]): string {
  const hash = createHash("sha256");
  for (const [name, content] of parts) hash.update(name).update("\0").update(content).update("\0");
  return hash.digest("hex");
}
