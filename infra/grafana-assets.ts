// The repository's grafana/ folder (provisioning and dashboards), read while the program runs: every
// YAML/JSON file under it becomes one S3 object, and their digest goes into the host's user data, so
// a change to any of them rolls the Grafana instance. Files that appear later are picked up by the
// next `pulumi up`; a missing folder yields no files (and a warning), not an error.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";

export interface GrafanaAsset {
  /** Path relative to the folder, with `/` separators (also the S3 key under `grafana/`). */
  path: string;
  content: string;
  contentType: string;
}

const CONTENT_TYPES: Record<string, string> = { ".json": "application/json", ".yaml": "application/yaml", ".yml": "application/yaml" };

export function readGrafanaAssets(dir: string): { files: GrafanaAsset[]; sha256: string } {
  const files: GrafanaAsset[] = [];
  const walk = (current: string) => {
    for (const entry of readdirSync(current).sort()) {
      if (entry.startsWith(".") || entry === "node_modules") continue;
      const full = join(current, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (CONTENT_TYPES[extname(entry)]) {
        files.push({ path: relative(dir, full).split(sep).join("/"), content: readFileSync(full, "utf8"), contentType: CONTENT_TYPES[extname(entry)]! });
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  const hash = createHash("sha256");
  for (const file of files) hash.update(file.path).update("\0").update(file.content).update("\0");
  return { files, sha256: hash.digest("hex") };
}
