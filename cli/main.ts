// `coffeetl`: the local pipeline's command line (DESIGN section 8).
import { parseArgs } from "node:util";
import { pipeline } from "node:stream/promises";
import cliProgress from "cli-progress";
import { generateSample } from "../functions/core/sample.js";
import { openLocalPipeline, type FileReport } from "../functions/local/pipeline.js";
import { formatTable } from "./table.js";

const USAGE = `Usage: coffeetl <command> [options]

Commands:
  ingest PATH...        Transform and load raw .csv files (or folders of them) into the local warehouse
  sql "QUERY" [--json]  Run a query on the local warehouse (--json: a JSON array of row objects)
  sample [--rows N] [--seed S] [--branch NAME] [--date YYYY-MM-DD]
                        Write a realistic raw branch file to standard output
  dashboards [--out FILE.html] [--from T] [--to T] [--var NAME=VALUE]... [--serve [--port N]]
                        Render the Grafana dashboards from the local warehouse into one HTML page
                        (default range: the data's whole history; T: now-7d, 2024-03-01, epoch ms);
                        --serve: a local page whose time range and branch controls re-run the queries;
                        --branch NAME: short for --var branch=NAME

Options:
  --home DIR            State folder (default: $COFFEETL_HOME, else ./.coffeetl)
  --database-url URL    Use a PostgreSQL server instead of the embedded warehouse (or DATABASE_URL)
  --key-file FILE       The transaction-id key, for several machines sharing one warehouse (or
                        COFFEETL_KEY_FILE; COFFEETL_TRANSACTION_KEY gives the key itself). Default:
                        the key made once under --home
  --threads N           ingest: worker threads per file (default: one per core, up to 4, for files
                        of 24 MB or more; 0: the main thread only, the least memory)
  -h, --help            Show this help
`;

const PROGRESS_MIN_BYTES = 4 * 1024 * 1024;

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      home: { type: "string" },
      "database-url": { type: "string" },
      "key-file": { type: "string" },
      json: { type: "boolean" },
      rows: { type: "string" },
      seed: { type: "string" },
      branch: { type: "string" },
      date: { type: "string" },
      out: { type: "string" },
      threads: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      var: { type: "string", multiple: true },
      serve: { type: "boolean" },
      port: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [command, ...args] = positionals;
  if (values.help || !command || command === "help") {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  const home = values.home ?? process.env.COFFEETL_HOME ?? ".coffeetl";
  const databaseUrl = values["database-url"] ?? process.env.DATABASE_URL;
  const keyFile = values["key-file"];
  const connection = { home, ...(databaseUrl ? { databaseUrl } : {}), ...(keyFile ? { keyFile } : {}) };

  switch (command) {
    case "ingest": {
      if (args.length === 0) throw new UsageError("ingest needs at least one file or folder");
      const threads = values.threads === undefined ? undefined : Number(values.threads);
      if (threads !== undefined && !(Number.isInteger(threads) && threads >= 0 && threads <= 16)) {
        throw new UsageError(`--threads takes a whole number from 0 to 16, got ${JSON.stringify(values.threads)}`);
      }
      return ingest(args, { ...connection, threads });
    }
    case "sql": {
      if (args.length !== 1) throw new UsageError('sql takes one query, quoted: coffeetl sql "select ..."');
      const local = await openLocalPipeline(connection);
      try {
        const rows = await local.warehouse.query(args[0]!);
        process.stdout.write(values.json ? JSON.stringify(rows, null, 2) + "\n" : formatTable(rows));
      } finally {
        await local.close();
      }
      return 0;
    }
    case "sample": {
      if (args.length) throw new UsageError(`sample takes no arguments, got ${args.join(" ")}`);
      const rows = values.rows === undefined ? undefined : Number(values.rows);
      const options = { rows, seed: values.seed, branch: values.branch, date: values.date };
      await pipeline(generateSample(options), process.stdout).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "EPIPE") throw error;
      });
      return 0;
    }
    case "dashboards": {
      const { dashboardsCommand } = await import("./dashboards.js");
      const port = values.port === undefined ? undefined : Number(values.port);
      if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new UsageError(`--port takes a port number, got ${JSON.stringify(values.port)}`);
      // --branch NAME is short for --var branch=NAME (as for `sample`).
      const vars = [...(values.var ?? []), ...(values.branch !== undefined ? [`branch=${values.branch}`] : [])];
      await dashboardsCommand({ ...connection, out: values.out ?? "dashboards.html", from: values.from, to: values.to, vars, serve: values.serve, port });
      return 0;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

async function ingest(paths: string[], connection: { home: string; databaseUrl?: string; keyFile?: string; threads?: number | undefined }): Promise<number> {
  const local = await openLocalPipeline(connection);
  let bar: cliProgress.SingleBar | undefined;
  let reports: FileReport[];
  try {
    reports = await local.ingest(paths, {
      onFileStart(path, size) {
        if (size < PROGRESS_MIN_BYTES || !process.stderr.isTTY) return;
        bar = new cliProgress.SingleBar(
          { stream: process.stderr, format: `  {bar} {percentage}% | {value}/{total} MB | ${path}`, hideCursor: true, clearOnComplete: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(Math.ceil(size / 1048576), 0);
      },
      onProgress(_path, read) {
        bar?.update(Math.floor(read / 1048576));
      },
      onFileDone(report) {
        bar?.stop();
        bar = undefined;
        printReport(report);
      },
    });
  } finally {
    await local.close();
  }
  const failed = reports.filter((r) => !r.ok).length;
  const sum = (pick: (r: FileReport) => number) => reports.reduce((n, r) => n + pick(r), 0);
  console.log(
    `${reports.length} file${reports.length === 1 ? "" : "s"}: ${reports.length - failed} processed, ${failed} failed; ` +
      `${sum((r) => r.salesNew)} new sales, ${sum((r) => r.duplicates)} duplicates, ${sum((r) => r.rejected)} rejected rows, ${sum((r) => r.warnings)} warnings`,
  );
  if (reports.length === 0) console.error("coffeetl: no .csv files found in the given paths");
  return failed > 0 || reports.length === 0 ? 1 : 0;
}

function printReport(r: FileReport): void {
  const time = `${(r.durationMs / 1000).toFixed(2)}s`;
  if (!r.ok) {
    console.log(`✘ ${r.path}: failed: ${r.error}`);
    return;
  }
  console.log(
    `✔ ${r.path}: ${r.rowsRead} rows read, ${r.salesNew} sales new, ${r.duplicates} duplicates, ${r.rejected} rejected, ${r.warnings} warnings, ${time}` +
      (r.threads ? ` on ${r.threads} threads` : ""),
  );
  printNotes("rejected", r.rejected, r.firstRejects, r.rejectsPath);
  printNotes("warning", r.warnings, r.firstWarnings, r.warningsPath);
}

/** The first few rejected lines or warnings of a file (line and reason, never content), and where the rest are. */
function printNotes(kind: string, count: number, first: Array<{ line: number; reason: string }> | undefined, path: string | undefined): void {
  const shown = (first ?? []).slice(0, 3);
  for (const note of shown) console.log(`  ${kind} line ${note.line}: ${note.reason}`);
  if (path) console.log(`  ${count > shown.length ? `${count - shown.length} more; all ` : "all "}${kind} lines (line, reason): ${path}`);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    console.error(`coffeetl: ${error.message}`);
    if (error instanceof UsageError) console.error("Run `coffeetl --help` for usage.");
    process.exitCode = error instanceof UsageError ? 2 : 1;
  },
);
