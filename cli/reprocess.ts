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
import { UsageError } from "./errors.js";
import { line, warn } from "./output.js";
import type { StackClients } from "./outputs.js";

/** A raw-key prefix, or the folder or file the files were ingested from (their keys are their absolute paths). */
function rawPrefix(given: string | undefined): string {
  if (!given) return "";
  const looksLikePath = given.startsWith(".") || given.startsWith(sep) || existsSync(given);
  const path = looksLikePath ? resolve(given) : given;
  const prefix = path
    .split(/[\\/]+/)
    .filter(Boolean)
    .join("/");
  return looksLikePath && existsSync(path) && !path.toLowerCase().endsWith(".csv") ? `${prefix}/` : prefix;
}

export async function reprocessCommand(
  ctx: CommandContext,
  print: { printReport(report: FileReport): void; printSummary(reports: FileReport[]): void },
): Promise<number> {
  if (ctx.connection.outputs !== undefined) return reprocessOnAws(ctx);
  if (ctx.values["dry-run"]) throw new UsageError("reprocess: --dry-run goes with --outputs (on AWS)", "reprocess");
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
  line(
    `Reprocessing ${paths.length} raw file${paths.length === 1 ? "" : "s"}${prefix ? ` under ${prefix}` : ""}${since ? ` stored since ${ctx.values.since}` : ""}.`,
  );
  const reports = await runFiles(ctx.connection, paths, { threads }, print.printReport);
  print.printSummary(reports);
  return reports.some((r) => !r.ok) ? 1 : 0;
}

/**
 * On AWS (`--outputs`): each raw .csv object under PREFIX (stored since --since) is sent to the
 * extract-transform function as its S3 ObjectCreated event, so it runs through the deployed pipeline
 * as an upload does. Idempotent as there: content already transformed with the stack's key is skipped.
 */
async function reprocessOnAws(ctx: CommandContext, clients?: Pick<StackClients, "s3" | "lambda">): Promise<number> {
  if (ctx.values.threads !== undefined)
    throw new UsageError("reprocess: --threads is for a local home; on AWS the extract-transform function runs the files", "reprocess");
  const since = dateOption(ctx, "since");
  const prefix = ctx.args[0] ?? "";
  const dryRun = ctx.values["dry-run"] === true;
  const { readOutputs, stackClients } = await import("./outputs.js");
  const { reemitPrefix } = await import("./redrive.js");
  const stack = await readOutputs(ctx.connection.outputs!, ctx.connection.region);
  const c = clients ?? (await stackClients(stack));
  let sent;
  try {
    sent = await reemitPrefix(c, stack, prefix, stack.region, dryRun, since);
  } finally {
    if (!clients) for (const client of Object.values(c) as Array<{ destroy(): void }>) client.destroy();
  }
  const where = `s3://${stack.rawBucketName}/${prefix}`;
  if (sent.reemitted === 0) {
    warn(`coffeetl: no raw .csv objects under ${where}${since ? ` stored since ${ctx.values.since}` : ""}`);
    return 1;
  }
  const n = `${sent.reemitted} raw file${sent.reemitted === 1 ? "" : "s"}`;
  line(`${dryRun ? "Would send" : "Sent"} ${n} under ${where}${since ? ` stored since ${ctx.values.since}` : ""} to ${stack.extractTransformFunctionName}:`);
  for (const key of sent.keys) line(`  ${key}`);
  if (sent.skippedNotCsv) line(`(${sent.skippedNotCsv} other object${sent.skippedNotCsv === 1 ? "" : "s"} skipped: not .csv)`);
  if (!dryRun) {
    line(
      "Each runs as an upload does: a file whose transform failed is transformed and loaded again; content already transformed is skipped.\n" +
        `In a few minutes: \`coffeetl status --outputs ${ctx.connection.outputs}\`; a load parked in the dead-letter queue: \`coffeetl redrive --outputs ${ctx.connection.outputs}\`.`,
    );
  }
  return 0;
}
