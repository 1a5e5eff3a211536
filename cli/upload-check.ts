// Before anything is sent: which files an upload means (a folder is its .csv files) and what the
// pipeline will make of each, by running the same transform the extract-transform Lambda runs, on this
// machine, with a throwaway key (the ids it makes are discarded; nothing is written or sent).
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import type { TransformSummary } from "../functions/core/manifest.js";
import { transform } from "../functions/core/transform.js";
import { line } from "./output.js";

/** The files named: a file as given, a folder as its own `.csv` files (any case, sorted, not its subfolders). */
export async function expandUploadPaths(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (!info?.isDirectory()) {
      out.push(path); // a missing file is reported by the upload, with the others still going
      continue;
    }
    const entries = await readdir(path, { withFileTypes: true });
    const csvs = entries.filter((e) => e.isFile() && /\.csv$/i.test(e.name)).map((e) => join(path, e.name));
    if (!csvs.length) throw new Error(`upload: ${path}: a folder with no .csv files`);
    out.push(...csvs.sort());
  }
  return out;
}

interface CheckReport {
  path: string;
  ok: boolean;
  error?: string;
  summary?: TransformSummary;
}

/** Runs a file through the transform; `ok: false` when the pipeline would fail it whole. */
export async function checkFile(path: string): Promise<CheckReport> {
  if (!/\.csv$/i.test(path)) return { path, ok: false, error: "not a .csv file (the pipeline reads .csv files only)" };
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) return { path, ok: false, error: info ? "not a file" : "no such file" };
  const run = transform(createReadStream(path), { transactionIdKey: randomBytes(32), sourceKey: `check/${basename(path)}` });
  for (const output of Object.values(run.outputs)) output.resume();
  try {
    return { path, ok: true, summary: await run.done };
  } catch (error) {
    return { path, ok: false, error: (error as Error).message.replace(/^check\/[^:]*: /, "") };
  }
}

/** One line per file, and its first rejected lines (line and reason, never content). */
export function printCheck(report: CheckReport): void {
  if (!report.ok) {
    line(`✘ ${report.path}: the pipeline would fail it: ${report.error}`);
    return;
  }
  const s = report.summary!;
  line(`✔ ${report.path}: ${s.rowsRead} rows read, ${s.rows.transactions} sales, ${s.rejected} rejected, ${s.warnings} warnings`);
  for (const note of (s.firstRejects ?? []).slice(0, 3)) line(`  rejected line ${note.line}: ${note.reason}`);
  if (s.rejected > 3) line(`  (${s.rejected - 3} more rejected lines)`);
}
