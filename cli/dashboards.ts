// `coffeetl dashboards [--out FILE.html] [--from T] [--to T] [--var name=value]... [--serve [--port N]]`:
// the provisioned Grafana dashboards (grafana/dashboards/*.json) rendered from the local warehouse, so
// a client sees their numbers before anything is deployed. Same panels, same SQL, same variables;
// macros expanded as the Redshift plugin does. By default the range is the data's whole history
// (every sale the warehouse holds), variables at their defaults (All branches). `--serve` runs a
// local page whose controls (time range, branch) re-run the queries, like Grafana's own URL
// parameters `from`, `to` and `var-<name>`; without it, one self-contained HTML file is written.
import { mkdir, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, dirname, resolve } from "node:path";
import { UsageError } from "./errors.js";
import { openWarehouse } from "./home.js";
import { formatWallClock } from "../grafana/lib/interpolate.js";
import { DASHBOARDS_DIR, readDashboards } from "../grafana/lib/model.js";
import { renderPreview } from "../grafana/lib/render.js";
import { runDashboard, type DashboardRun, type QueryRunner, type RunOptions } from "../grafana/lib/run.js";

interface DashboardsArgs {
  home: string;
  databaseUrl?: string;
  out: string;
  dashboardsDir?: string;
  from?: string;
  to?: string;
  /** `name=value` pairs; a name given twice selects several values. */
  vars?: string[];
  serve?: boolean;
  port?: number;
}

const connectionOf = (args: Pick<DashboardsArgs, "home" | "databaseUrl">) => ({
  home: args.home,
  ...(args.databaseUrl ? { databaseUrl: args.databaseUrl } : {}),
});

/** What the page says it shows: a server needs no home, so none is named then. */
const sourceOf = (args: Pick<DashboardsArgs, "home" | "databaseUrl">) =>
  args.databaseUrl ? "the PostgreSQL server given" : `the local warehouse in ${resolve(args.home)}`;

interface PreviewSummary {
  out: string;
  dashboards: number;
  drawn: number;
  empty: number;
  placeholders: number;
  problems: string[];
}

/** `["branch=Leeds", "branch=York"]` → `{ branch: ["Leeds", "York"] }`. */
export function parseVars(pairs: string[] = []): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const pair of pairs) {
    const i = pair.indexOf("=");
    if (i <= 0) throw new UsageError(`dashboards: --var takes name=value (e.g. --var branch=Leeds), got ${JSON.stringify(pair)}`, "dashboards");
    (out[pair.slice(0, i)] ??= []).push(pair.slice(i + 1));
  }
  return out;
}

/** Runs the dashboards of `dir` on `db` and returns the page; for the command, the server and tests. */
export async function renderDashboardsPage(
  db: QueryRunner,
  options: { dashboardsDir?: string; source: string; run?: RunOptions; live?: boolean },
): Promise<{ html: string; runs: DashboardRun[] }> {
  const files = readDashboards(options.dashboardsDir ?? DASHBOARDS_DIR);
  if (!files.length) throw new Error(`no dashboards (*.json) in ${options.dashboardsDir ?? DASHBOARDS_DIR}`);
  const broken = files.filter((f) => !f.dashboard);
  if (broken.length) throw new Error(broken.map((f) => `${basename(f.file)}: not valid JSON: ${f.parseError}`).join("\n"));
  const runs: DashboardRun[] = [];
  for (const f of files) runs.push(await runDashboard(f.dashboard!, db, options.run));
  // A variable no dashboard defines is a typo: say so rather than ignore it.
  const unknown = Object.keys(options.run?.variables ?? {}).filter((n) => runs.every((r) => r.unknownVariables.includes(n)));
  if (unknown.length) {
    const known = [...new Set(runs.flatMap((r) => r.variables.map((v) => v.name)))];
    throw new UsageError(`dashboards: --var ${unknown.join(", ")}: no dashboard has such a variable (known: ${known.join(", ")})`, "dashboards");
  }
  // So is a value the variable does not have (`--var branch=York` where no branch is York): the page
  // would be every panel's error, so nothing is written.
  const given = Object.keys(options.run?.variables ?? {});
  const refused = [...new Set(runs.flatMap((r) => r.errors.filter((e) => given.some((n) => e.startsWith(`variable $${n}:`)))))];
  if (refused.length) throw new UsageError(`dashboards: ${refused.map((e) => e.replace(/^variable \$/, "--var ")).join("; ")}`, "dashboards");
  const asked = {
    ...(options.run?.from ? { from: options.run.from } : {}),
    ...(options.run?.to ? { to: options.run.to } : {}),
    variables: options.run?.variables ?? {},
  };
  return { html: renderPreview(runs, { source: options.source, generatedAt: new Date(), live: options.live ?? false, asked }), runs };
}

function summarise(out: string, runs: DashboardRun[]): PreviewSummary {
  const problems: string[] = [];
  let drawn = 0;
  let empty = 0;
  let placeholders = 0;
  for (const run of runs) {
    const at = run.dashboard.title ?? run.dashboard.uid ?? "?";
    for (const e of run.errors) problems.push(`${at}: ${e}`);
    for (const p of run.panels) {
      if (p.kind === "cloudwatch" && !p.errors.length) placeholders++;
      else if (!p.errors.length && p.empty) empty++;
      else if (!p.errors.length) drawn++;
      for (const e of p.errors) problems.push(`${at} / ${p.panel.title ?? "?"}: ${e}`);
    }
  }
  return { out, dashboards: runs.length, drawn, empty, placeholders, problems };
}

function runOptions(args: { from?: string; to?: string; vars?: string[] }): RunOptions {
  return { ...(args.from ? { from: args.from } : {}), ...(args.to ? { to: args.to } : {}), variables: parseVars(args.vars) };
}

export async function dashboardsCommand(args: DashboardsArgs): Promise<void> {
  if (args.serve) {
    const server = await startPreviewServer(args);
    process.stdout.write(`serving the dashboards of ${server.source} at ${server.url} (Ctrl-C to stop)\n`);
    await new Promise<void>((done) => {
      // `on`, not `once`: proper-lockfile's signal-exit (loaded with the first page's lock) re-raises
      // the signal, and the status becomes 130, when it finds itself the only listener left.
      let stopping = false;
      const stop = () => {
        if (!stopping) {
          stopping = true;
          void server.close().then(done);
        }
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    return;
  }
  const out = resolve(args.out);
  const options = runOptions(args);
  const opened = await openWarehouse(connectionOf(args), "heavy");
  let page: { html: string; runs: DashboardRun[] };
  try {
    const count = await opened.warehouse.query<{ n: string | number }>("SELECT COUNT(*) AS n FROM transactions");
    if (Number(count[0]?.n ?? 0) === 0)
      process.stderr.write('warning: the warehouse has no sales yet (panels show "No data"): run `coffeetl ingest FILES...` first\n');
    page = await renderDashboardsPage(opened.warehouse, {
      ...(args.dashboardsDir ? { dashboardsDir: args.dashboardsDir } : {}),
      source: sourceOf(args),
      run: options,
    });
  } finally {
    await opened.close();
  }
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, page.html);
  const s = summarise(out, page.runs);
  const range = page.runs.length
    ? `; ranges: ${page.runs.map((r) => `${r.dashboard.title ?? r.dashboard.uid}: ${formatWallClock(r.range.from, r.timeZone)} → ${formatWallClock(r.range.to, r.timeZone)} (${r.rangeReason})`).join("; ")}`
    : "";
  process.stdout.write(
    `wrote ${out}: ${s.dashboards} dashboards, ${s.drawn} panels from the warehouse, ${s.empty} with no data, ${s.placeholders} CloudWatch placeholders${range}` +
      (s.problems.length ? `, ${s.problems.length} problems:\n  ${s.problems.join("\n  ")}\n` : "\n"),
  );
}

interface PreviewServer {
  url: string;
  source: string;
  close(): Promise<void>;
}

/**
 * A local page (127.0.0.1 only) whose controls re-run the dashboards: GET /?from=…&to=…&var-branch=…
 * One request at a time (the embedded warehouse has one connection).
 */
export async function startPreviewServer(args: Omit<DashboardsArgs, "out"> & { db?: QueryRunner }): Promise<PreviewServer> {
  // A server warehouse keeps one connection. A home is opened per request and closed after it, so the
  // preview never holds the home's lock while it waits for the browser: ingest, status and sql run
  // between two page loads.
  const opened = args.db || !args.databaseUrl ? undefined : await openWarehouse(connectionOf(args), "heavy");
  const withDb = async <T>(work: (db: QueryRunner) => Promise<T>): Promise<T> => {
    if (args.db) return work(args.db);
    if (opened) return work(opened.warehouse);
    const perRequest = await openWarehouse(connectionOf(args), "heavy");
    try {
      return await work(perRequest.warehouse);
    } finally {
      await perRequest.close();
    }
  };
  const source = args.db ? "the given warehouse" : sourceOf(args);
  let queue: Promise<unknown> = Promise.resolve();
  let hosts = new Set<string>();
  const server: Server = createServer((req, res) => {
    // Only this server's own names: a page on another site whose name resolves to 127.0.0.1 (DNS
    // rebinding) would otherwise read the warehouse's figures through the visitor's browser.
    if (!hosts.has((req.headers.host ?? "").toLowerCase())) {
      res
        .writeHead(421, { "content-type": "text/plain; charset=utf-8" })
        .end(`this preview answers only ${[...hosts].map((h) => `http://${h}/`).join(" or ")}\n`);
      return;
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method !== "GET" || url.pathname !== "/") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    const vars = [...url.searchParams.entries()].filter(([k]) => k.startsWith("var-")).map(([k, v]) => `${k.slice(4)}=${v}`);
    const asked = {
      from: url.searchParams.get("from") || args.from,
      to: url.searchParams.get("to") || args.to,
      vars: vars.length ? vars : args.vars,
    };
    const job = queue.then(async () => {
      try {
        const { html } = await withDb((db) =>
          renderDashboardsPage(db, { ...(args.dashboardsDir ? { dashboardsDir: args.dashboardsDir } : {}), source, run: runOptions(asked), live: true }),
        );
        res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(html);
      } catch (error) {
        res.writeHead(error instanceof UsageError ? 400 : 500, { "content-type": "text/plain; charset=utf-8" }).end(`${(error as Error).message}\n`);
      }
    });
    queue = job;
  });
  await new Promise<void>((listening, failed) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      void opened?.close();
      failed(
        error.code === "EADDRINUSE"
          ? new Error(
              `dashboards: port ${args.port} on 127.0.0.1 is taken by another program; choose another with --port N, or leave --port out for a free one`,
            )
          : error.code === "EACCES"
            ? new Error(`dashboards: not allowed to listen on port ${args.port}; choose one above 1023 with --port N`)
            : error,
      );
    });
    server.listen(args.port ?? 0, "127.0.0.1", () => listening());
  });
  const { port } = server.address() as AddressInfo;
  hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  return {
    url: `http://127.0.0.1:${port}/`,
    source,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await queue;
      await opened?.close();
    },
  };
}
