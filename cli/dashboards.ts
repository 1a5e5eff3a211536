// `coffeetl dashboards [--out FILE.html]`: the provisioned Grafana dashboards (grafana/dashboards/*.json)
// rendered from the local warehouse into one self-contained HTML page, so a client sees their numbers
// before anything is deployed. Same panels, same SQL, same variables (at their defaults, All selected);
// macros expanded as the Redshift plugin does. Relative ranges end at the newest data a dashboard
// filters on (see grafana/lib/run.ts `anchorFor`), so sample files from past dates still show.
import { mkdir, writeFile } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { openLocalPipeline } from "../functions/local/pipeline.js";
import { DASHBOARDS_DIR, readDashboards } from "../grafana/lib/model.js";
import { renderPreview } from "../grafana/lib/render.js";
import { runDashboard, type DashboardRun, type QueryRunner, type RunOptions } from "../grafana/lib/run.js";

export interface DashboardsArgs {
  home: string;
  databaseUrl?: string;
  out: string;
  dashboardsDir?: string;
}

export interface PreviewSummary {
  out: string;
  dashboards: number;
  drawn: number;
  placeholders: number;
  problems: string[];
}

/** Runs the dashboards of `dir` on `db` and returns the page; for the command and for tests. */
export async function renderDashboardsPage(
  db: QueryRunner,
  options: { dashboardsDir?: string; source: string; run?: RunOptions },
): Promise<{ html: string; runs: DashboardRun[] }> {
  const files = readDashboards(options.dashboardsDir ?? DASHBOARDS_DIR);
  if (!files.length) throw new Error(`no dashboards (*.json) in ${options.dashboardsDir ?? DASHBOARDS_DIR}`);
  const broken = files.filter((f) => !f.dashboard);
  if (broken.length) throw new Error(broken.map((f) => `${basename(f.file)}: not valid JSON: ${f.parseError}`).join("\n"));
  const runs: DashboardRun[] = [];
  for (const f of files) runs.push(await runDashboard(f.dashboard!, db, options.run));
  return { html: renderPreview(runs, { source: options.source, generatedAt: new Date() }), runs };
}

export function summarise(out: string, runs: DashboardRun[]): PreviewSummary {
  const problems: string[] = [];
  let drawn = 0;
  let placeholders = 0;
  for (const run of runs) {
    const at = run.dashboard.title ?? run.dashboard.uid ?? "?";
    for (const e of run.errors) problems.push(`${at}: ${e}`);
    for (const p of run.panels) {
      if (p.kind === "cloudwatch" && !p.errors.length) placeholders++;
      else if (!p.errors.length) drawn++;
      for (const e of p.errors) problems.push(`${at} / ${p.panel.title ?? "?"}: ${e}`);
    }
  }
  return { out, dashboards: runs.length, drawn, placeholders, problems };
}

export async function dashboardsCommand(args: DashboardsArgs): Promise<void> {
  const out = resolve(args.out);
  const pipeline = await openLocalPipeline({ home: args.home, ...(args.databaseUrl ? { databaseUrl: args.databaseUrl } : {}) });
  let page: { html: string; runs: DashboardRun[] };
  try {
    const count = await pipeline.warehouse.query<{ n: string | number }>("SELECT COUNT(*) AS n FROM transactions");
    if (Number(count[0]?.n ?? 0) === 0) process.stderr.write("warning: the warehouse has no sales yet: run `coffeetl ingest FILES...` first\n");
    const source = args.databaseUrl ? "the PostgreSQL server given" : `the local warehouse in ${pipeline.home}`;
    page = await renderDashboardsPage(pipeline.warehouse, { ...(args.dashboardsDir ? { dashboardsDir: args.dashboardsDir } : {}), source });
  } finally {
    await pipeline.close();
  }
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, page.html);
  const s = summarise(out, page.runs);
  process.stdout.write(
    `wrote ${out}: ${s.dashboards} dashboards, ${s.drawn} panels from the warehouse, ${s.placeholders} CloudWatch placeholders` +
      (s.problems.length ? `, ${s.problems.length} problems:\n  ${s.problems.join("\n  ")}\n` : "\n"),
  );
}
