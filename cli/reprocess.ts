// `coffeetl reprocess [--since DATE] [PREFIX]`: the raw files already in the home, run through the
// same pipeline again. Idempotent: a file whose content was transformed and loaded before changes
// nothing (reported as duplicates); a file that failed is transformed and loaded again.
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import type { FileReport } from "../functions/local/pipeline.js";
import { FolderStorage } from "../functions/local/folder-storage.js";
import { dateOption, intOption, type CommandContext } from "./args.js";
import { runFiles } from "./ingest.js";
import { line, warn } from "./output.js";

/** A raw-key prefix, or the folder or file the files were ingested from (their keys are their absolute paths). */
export function rawPrefix(given: string | undefined): string {
  if (!given) return "";
  const looksLikePath = given.startsWith(".") || given.startsWith(sep) || existsSync(given);
  const path = looksLikePath ? resolve(given) : given;
  const prefix = path.split(/[\\/]+/).filter(Boolean).join("/");
  return looksLikePath && existsSync(path) && !path.toLowerCase().endsWith(".csv") ? `${prefix}/` : prefix;
}

export async function reprocessCommand(
  ctx: CommandContext,
  print: { printReport(report: FileReport): void; printSummary(reports: FileReport[]): void },
): Promise<number> {
  const threads = intOption(ctx, "threads", 0, 16);
  const since = dateOption(ctx, "since");
  const prefix = rawPrefix(ctx.args[0]);
  const raw = new FolderStorage(join(resolve(ctx.connection.home), "raw"));
  const paths: string[] = [];
  for await (const key of raw.list(prefix)) {
    if (!key.toLowerCase().endsWith(".csv")) continue;
    // The time a raw file was stored (its upload), as S3's LastModified.
    if (since && (await stat(raw.path(key))).mtime < since) continue;
    paths.push(raw.path(key));
  }
  if (paths.length === 0) {
    warn(`coffeetl: no raw .csv files${prefix ? ` under ${JSON.stringify(prefix)}` : ""}${since ? ` stored since ${ctx.values.since}` : ""} in ${raw.name}`);
    return 1;
  }
  line(`Reprocessing ${paths.length} raw file${paths.length === 1 ? "" : "s"}${prefix ? ` under ${prefix}` : ""}${since ? ` stored since ${ctx.values.since}` : ""}.`);
  const reports = await runFiles(ctx.connection, paths, { threads }, print.printReport);
  print.printSummary(reports);
  return reports.some((r) => !r.ok) ? 1 : 0;
}
