// `coffeetl`: the local pipeline's command line (docs/design.md §10). Commands load their code when run,
// so `--help` and `--version` start no warehouse and `upload`/`redrive` alone load the AWS SDK.
import type { FileReport } from "../functions/local/pipeline.js";
import { intOption, parseCommandLine, type CommandContext } from "./args.js";
import { visibleKey } from "../functions/core/errors.js";
import { ENCODING_NAMES, SAVE_AS_UTF8, type SourceEncoding } from "../functions/core/encoding.js";
import { UsageError } from "./errors.js";
import { requireHome } from "./home.js";
import { guardPipes, line, warn } from "./output.js";

export async function main(argv: string[]): Promise<number> {
  const { ctx, print } = parseCommandLine(argv);
  if (print !== undefined) {
    process.stdout.write(print);
    return 0;
  }
  const spec = ctx!.spec;
  // Named in the home's lock, so a command waiting for this one can say what holds the home.
  process.title = `coffeetl ${spec.name}`;
  const elsewhere = ctx!.connection.databaseUrl !== undefined || ctx!.connection.outputs !== undefined;
  if ((spec.home === "requires" && ctx!.connection.outputs === undefined) || (spec.home === "requires-local" && !elsewhere))
    requireHome(ctx!.connection.home, spec.name);

  switch (spec.name) {
    case "ingest":
      return ingest(ctx!);
    case "sql":
      return (await import("./sql.js")).sqlCommand(ctx!);
    case "status":
      return (await import("./status.js")).statusCommand(ctx!);
    case "rejects":
      return (await import("./status.js")).rejectsCommand(ctx!);
    case "forget":
      return (await import("./forget.js")).forgetCommand(ctx!);
    case "reprocess":
      return (await import("./reprocess.js")).reprocessCommand(ctx!, { printReport, printSummary });
    case "upload":
      return (await import("./upload.js")).uploadCommand(ctx!);
    case "redrive":
      return (await import("./redrive.js")).redriveCommand(ctx!);
    case "verify":
      return (await import("./verify.js")).verifyCommand(ctx!);
    case "sample":
      return (await import("./sample.js")).sampleCommand(ctx!);
    case "dashboards": {
      const { dashboardsCommand } = await import("./dashboards.js");
      const v = ctx!.values;
      const port = intOption(ctx!, "port", 1, 65535);
      // --branch NAME is short for --var branch=NAME (as for `sample`).
      const vars = [...((v.var as string[] | undefined) ?? []), ...(v.branch !== undefined ? [`branch=${v.branch as string}`] : [])];
      await dashboardsCommand({
        ...ctx!.connection,
        out: (v.out as string | undefined) ?? "dashboards.html",
        from: v.from as string | undefined,
        to: v.to as string | undefined,
        vars,
        serve: v.serve as boolean | undefined,
        port,
      });
      return 0;
    }
    case "demo":
      return (await import("./demo.js")).demoCommand(ctx!, { printReport, printSummary });
    default:
      throw new Error(`command ${spec.name} has no implementation`);
  }
}

async function ingest(ctx: CommandContext): Promise<number> {
  const threads = intOption(ctx, "threads", 0, 16);
  const { runFiles, splitMissing } = await import("./ingest.js");
  const { present, missing } = splitMissing(ctx.args);
  for (const path of missing) warn(`coffeetl: ${path}: no such file or folder`);
  const reports = present.length ? await runFiles(ctx.connection, present, { threads }, printReport) : [];
  printSummary(reports, missing.length);
  if (reports.length === 0 && missing.length === 0) warn("coffeetl: no .csv files found in the given paths");
  return reports.some((r) => !r.ok) || missing.length > 0 || reports.length === 0 ? 1 : 0;
}

export function printSummary(reports: FileReport[], missing = 0): void {
  const failed = reports.filter((r) => !r.ok).length;
  const sum = (pick: (r: FileReport) => number) => reports.reduce((n, r) => n + pick(r), 0);
  line(
    `${reports.length} file${reports.length === 1 ? "" : "s"}: ${reports.length - failed} processed, ${failed} failed; ` +
      `${sum((r) => r.transactionsNew)} new sales, ${sum((r) => r.duplicates)} duplicates, ${sum((r) => r.rejected)} rejected rows, ${sum((r) => r.warnings)} warnings` +
      (missing ? `; ${missing} path${missing === 1 ? "" : "s"} not found` : ""),
  );
}

export function printReport(report: FileReport): void {
  // A name holding a newline or a tab stays on its one line.
  const r = { ...report, path: visibleKey(report.path) };
  const time = `${(r.durationMs / 1000).toFixed(2)}s`;
  if (!r.ok) {
    line(`✘ ${r.path}: failed: ${r.error}`);
    return;
  }
  if (r.outcome === "superseded") {
    line(
      `= ${r.path}: superseded on arrival: an older version than the one loaded (load ${r.newerLoadId?.slice(0, 12)}), which stays; nothing changed (if this copy is the one you mean, \`touch\` it and ingest it again)`,
    );
    return;
  }
  if (r.outcome === "withdrawn") {
    line(`✔ ${r.path}: withdrawn: this version has a header and no rows, so the file now holds no sales`);
    return;
  }
  line(
    `✔ ${r.path}: ${r.rowsRead} rows read, ${r.transactionsNew} sales new, ${r.duplicates} duplicates, ${r.rejected} rejected, ${r.warnings} warnings, ${time}` +
      (r.threads ? ` on ${r.threads} threads` : ""),
  );
  if (r.encoding) line(`  warning: ${encodingWarning(r.encoding)}`);
  printNotes("rejected", r.rejected, r.firstRejects, r.rejectsPath);
  printNotes("warning", r.warnings, r.firstWarnings, r.warningsPath);
}

/** A file that was not UTF-8: what it was, and how to send UTF-8 next time. */
const encodingWarning = (encoding: string) =>
  `the file is ${ENCODING_NAMES[encoding as SourceEncoding] ?? encoding} text, not UTF-8: decoded as such; to avoid this, ${SAVE_AS_UTF8}`;

/** The first few rejected lines or warnings of a file (line and reason, never content), and where the rest are. */
function printNotes(kind: string, count: number, first: Array<{ line: number; reason: string }> | undefined, path: string | undefined): void {
  const shown = (first ?? []).slice(0, 3);
  for (const note of shown) line(`  ${kind} line ${note.line}: ${note.reason}`);
  if (path) line(`  ${count > shown.length ? `${count - shown.length} more; all ` : "all "}${kind} lines (line, reason): ${path}`);
}

/** An error's message, never `undefined` (some libraries throw objects without one); a full disk says so. */
function describeError(error: unknown): string {
  const e = error as { message?: unknown; code?: unknown; path?: unknown } | undefined;
  if (e?.code === "ENOSPC") return `no space left on the device${typeof e.path === "string" ? ` for ${e.path}` : ""}`;
  return typeof e?.message === "string" && e.message ? e.message : String(error);
}

guardPipes();
main(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (error: Error) => {
      warn(`coffeetl: ${describeError(error)}`);
      if (error instanceof UsageError) warn(`Run \`coffeetl ${error.command ? `${error.command} ` : ""}--help\` for usage.`);
      process.exitCode = error instanceof UsageError ? 2 : 1;
    },
  )
  .then(exitWhenFlushed);

/**
 * Exits once standard output and error are flushed, rather than when the event loop empties: the
 * embedded warehouse leaves the loop busy for a further ~0.3-0.7 s after it is closed (measured on
 * `sql "select 1"`), which every command would otherwise pay.
 */
function exitWhenFlushed(): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit();
  };
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.destroyed || stream.writableLength === 0) done();
    else stream.once("drain", done).once("error", done);
  }
}
