// What users feel (issue 23), run first by `npm run bench` (alone: `node --import tsx bench/everyday.ts`).
// Each case is the built CLI (`bin/coffeetl.js`, as users run it) in its own process, timed from
// spawn to exit, with its peak RSS; the cases run in interleaved rounds (COFFEETL_BENCH_EVERYDAY_ROUNDS,
// default 5) and each figure is the median round, in seconds and in CPU. Side by side, in the same rounds:
//   - a new home's first ingest of one day file, a day file into an existing home (its warehouse
//     kept warm by the previous command, and gone cold), `sql "select 1"` and `status` on an
//     existing home: embedded PGlite, a PostgreSQL server
//     (COFFEETL_BENCH_DATABASE_URL) and bare `node -e 0`;
//   - the 153-file backfill against one file of the same sales, each into a new home (open included);
//   - `npm run demo` (scripts/demo.ts) of this tree and, with COFFEETL_BENCH_BASELINE=<git ref>, of that commit;
//   - the extract-transform Lambda handler's CPU for a day file (bench/handler-memory.ts).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { baselineTree } from "./baseline.js";
import { SAMPLE_BRANCHES, sampleChunks } from "../functions/core/sample.js";

const ROOT = new URL("..", import.meta.url).pathname;
// Per run, so that two runs at once never share (or remove) each other's homes.
const DATA = join(ROOT, `bench/.data/everyday-${process.pid}`);
const serverUrl = process.env.COFFEETL_BENCH_DATABASE_URL;
const rounds = Number(process.env.COFFEETL_BENCH_EVERYDAY_ROUNDS ?? 5);
const baselineRef = process.env.COFFEETL_BENCH_BASELINE;
const RSS_FILE = join(DATA, "rss.txt");
/** Preloaded into every timed process: writes its peak RSS (MB) when it exits. */
const RSS_PRELOAD = join(DATA, "rss-preload.mjs");

interface Run {
  seconds: number;
  peakRssMb: number;
  /** CPU seconds (user + system, all threads) of every process the command ran: what a loaded machine's run queue shares out. */
  cpuSeconds: number;
}

/** One process, timed from spawn to exit; fails loudly when the command does. */
function timed(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  writeFileSync(RSS_FILE, "");
  const started = process.hrtime.bigint();
  const child = spawnSync(process.execPath, args, {
    cwd: options.cwd ?? DATA,
    // Through NODE_OPTIONS, so that a process the command starts (npm run demo's CLI) reports too.
    env: {
      ...process.env,
      ...options.env,
      COFFEETL_BENCH_RSS_FILE: RSS_FILE,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import=${RSS_PRELOAD}`.trim(),
    },
    encoding: "utf8",
    maxBuffer: 16 << 20,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (child.status !== 0) throw new Error(`${args.join(" ")} exited ${child.status}: ${(child.stderr || child.stdout).slice(-2000)}`);
  // A command spawning another (npm run demo) reports each process: the highest is the peak.
  const exits = readFileSync(RSS_FILE, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" ").map(Number));
  return { seconds, peakRssMb: Math.max(0, ...exits.map(([rss]) => rss!)), cpuSeconds: exits.reduce((n, [, cpu]) => n + (cpu ?? 0), 0) };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const typical = (runs: Run[]): Run => ({
  seconds: median(runs.map((r) => r.seconds)),
  peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)),
  cpuSeconds: median(runs.map((r) => r.cpuSeconds)),
});

let dbCounter = 0;
async function newDatabase(): Promise<string> {
  const name = `coffeetl_everyday_${process.pid}_${++dbCounter}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl!);
  url.pathname = `/${name}`;
  return url.toString();
}
async function dropDatabases(): Promise<void> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const { rows } = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'coffeetl_everyday_${process.pid}_%'`);
  for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  await admin.end();
}

/** A day file of the sample generator (one branch, about 300 sales), as `coffeetl sample` writes it. */
async function dayFile(dir: string, i: number): Promise<string> {
  const branches = Object.keys(SAMPLE_BRANCHES);
  const branch = branches[i % branches.length]!;
  const day = new Date(Date.UTC(2024, 0, 1 + Math.floor(i / branches.length))).toISOString().slice(0, 10);
  const path = join(dir, `${branch.replace(/\W+/g, "_").toLowerCase()}_${day}.csv`);
  if (!existsSync(path)) await writeFile(path, [...sampleChunks({ branch, date: day, seed: `day-${i}`, rows: 300 })].join(""));
  return path;
}

/** The baseline commit's tree (bench/baseline.ts), its CLI built as `npm ci` would leave it (else it would run through tsx, slower to start). */
function baselineCli(ref: string): { tree: string; commit: string } {
  const baseline = baselineTree(ROOT, ref);
  execFileSync(process.execPath, [join(baseline.tree, "scripts/build-cli.js")], { cwd: baseline.tree, stdio: "ignore" });
  return baseline;
}

await rm(DATA, { recursive: true, force: true, maxRetries: 2 });
await mkdir(join(DATA, "days"), { recursive: true });
await writeFile(
  RSS_PRELOAD,
  `import { appendFileSync } from "node:fs";\nprocess.on("exit", () => { if (process.title.startsWith("coffeetl warm-keeper")) return; const u = process.resourceUsage(); if (process.env.COFFEETL_BENCH_RSS_FILE) appendFileSync(process.env.COFFEETL_BENCH_RSS_FILE, Math.round(u.maxRSS / 1024) + " " + (u.userCPUTime + u.systemCPUTime) / 1e6 + "\\n"); });\n`,
);
execFileSync(process.execPath, [join(ROOT, "scripts/build-cli.js")], { cwd: ROOT, stdio: "inherit" });
const CLI = join(ROOT, "bin/coffeetl.js");
const cli = (...args: string[]) => [CLI, ...args];

// The day files: one per round for the existing-home case (each a new file to load), a first one, 153 for the backfill.
const days = join(DATA, "days");
const files: string[] = [];
for (let i = 0; i < 153; i++) files.push(await dayFile(days, i));
const onePath = join(DATA, "one-file.csv");
await writeFile(onePath, (await Promise.all(files.map((f) => readFile(f, "utf8")))).join(""));
const dayRows = readFileSync(files[0]!, "utf8").split("\n").filter(Boolean).length;
const backfillRows = readFileSync(onePath, "utf8").split("\n").filter(Boolean).length;

const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");
console.log(`Everyday commands (issue 23) on node ${process.version}: ${rounds} interleaved rounds, medians; load average at start ${load()}`);

// The template a new home starts from is made once per machine; the first ever new home pays it.
const templateRun = timed(cli("ingest", files[0]!, "--home", join(DATA, "template-home")), { env: { COFFEETL_CACHE_DIR: join(DATA, "cache") } });
console.log(`  (a first new home on a machine, making the warehouse template: ${templateRun.seconds.toFixed(2)} s, ${templateRun.peakRssMb} MB)`);
const cacheEnv = { COFFEETL_CACHE_DIR: join(DATA, "cache") };

type Case = "node" | "pglite" | "server";
// "cold ingest": a day file into an existing home whose warm warehouse has gone (idle for longer than
// COFFEETL_WARM_SECONDS, as for a daily cron job): the command starts the keeper again and waits for it.
const CASES = ["first ingest", "ingest", "cold ingest", "sql", "status"];

const pause = () => new Promise((resolve) => setTimeout(resolve, 2000));

/** Stops a home's warm-warehouse keeper, as its idle limit would, and waits until it has gone. */
async function coolDown(home: string): Promise<void> {
  let pid: number;
  try {
    pid = (JSON.parse(readFileSync(join(home, "warehouse.warm/keeper.json"), "utf8")) as { pid: number }).pid;
    process.kill(pid, "SIGTERM");
  } catch {
    return; // none running
  }
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
const backends: Case[] = serverUrl ? ["pglite", "server", "node"] : ["pglite", "node"];
const results = new Map<string, Run[]>();
const record = (name: string, run: Run) => results.set(name, [...(results.get(name) ?? []), run]);

// Existing homes: one per backend, holding one day file before the rounds begin.
const existing = join(DATA, "existing-pglite");
timed(cli("ingest", files[0]!, "--home", existing), { env: cacheEnv });
const existingUrl = serverUrl ? await newDatabase() : undefined;
const existingServer = join(DATA, "existing-server");
if (existingUrl) timed(cli("ingest", files[0]!, "--home", existingServer, "--database-url", existingUrl));

const baseline = baselineRef ? baselineCli(baselineRef) : undefined;

for (let round = 0; round < rounds; round++) {
  // Rotate which backend goes first, so none always gets the warmer (or quieter) slot.
  const order = backends.map((_, i) => backends[(i + round) % backends.length]!);
  for (const backend of order) {
    if (backend === "node") {
      for (const what of CASES) record(`${what}|node`, timed(["-e", "0"]));
      continue;
    }
    const newHome = join(DATA, `new-${backend}-${round}`);
    const server = backend === "server" ? ["--database-url", await newDatabase()] : [];
    const home = backend === "server" ? existingServer : existing;
    const db = backend === "server" ? ["--database-url", existingUrl!] : [];
    record(`first ingest|${backend}`, timed(cli("ingest", files[1]!, "--home", newHome, ...server), { env: cacheEnv }));
    // Commands a couple of seconds apart, as a user types them: the keeper a command hands the
    // warehouse to opens it a second after (back to back, the next command waits for that open,
    // about the cold case), and nothing of one case runs during the next one's timing.
    await pause();
    record(`ingest|${backend}`, timed(cli("ingest", files[2 + round]!, "--home", home, ...db), { env: cacheEnv }));
    record(`sql|${backend}`, timed(cli("sql", "select 1", "--home", home, ...db)));
    record(`status|${backend}`, timed(cli("status", "--home", home, ...db)));
    await coolDown(home);
    record(`cold ingest|${backend}`, timed(cli("ingest", files[2 + rounds + round]!, "--home", home, ...db), { env: cacheEnv }));
    await pause();
  }
}

const fmt = (r: Run) => `${r.seconds.toFixed(2)} s, ${String(r.peakRssMb).padStart(3)} MB`;
const rows = (n: number, r: Run) => `${Math.round(n / r.seconds).toLocaleString("en-GB")} rows/s`;
const rowsOf: Record<string, number> = { "first ingest": dayRows, ingest: dayRows, "cold ingest": dayRows };
const labels: Record<string, string> = {
  "first ingest": `a new home's first ingest of one day file (${dayRows} sales)`,
  ingest: "one day file into an existing home",
  "cold ingest": "the same, its warm warehouse gone (idle past its limit)",
  sql: 'sql "select 1" on an existing home',
  status: "status on an existing home",
};
/** The median over rounds of PGlite's time as a multiple of the other's in the same round. */
const ratio = (what: string, other: Case, of: "seconds" | "cpuSeconds" = "seconds") => {
  const a = results.get(`${what}|pglite`)!;
  const b = results.get(`${what}|${other}`)!;
  return median(a.map((r, i) => r[of] / b[i]![of]));
};
console.log(`\n| case | PGlite (embedded) | PostgreSQL server | node -e 0 | PGlite / server | PGlite / node -e 0 |`);
console.log(`|---|---|---|---|---|---|`);
for (const what of CASES) {
  const p = typical(results.get(`${what}|pglite`)!);
  const s = serverUrl ? typical(results.get(`${what}|server`)!) : undefined;
  const n = typical(results.get(`${what}|node`)!);
  const extra = (r: Run) => (rowsOf[what] ? `, ${rows(rowsOf[what]!, r)}` : "");
  console.log(
    `| ${labels[what]} | ${fmt(p)}${extra(p)} | ${s ? fmt(s) + extra(s) : "-"} | ${fmt(n)} | ${s ? ratio(what, "server").toFixed(2) + "x" : "-"} | ${ratio(what, "node").toFixed(1)}x |`,
  );
}
console.log(`\nThe same commands in CPU seconds (user + system, every thread; medians), which a loaded machine's run queue shares out:`);
console.log(`| case | PGlite | PostgreSQL server | node -e 0 | PGlite / server | PGlite / node -e 0 |`);
console.log(`|---|---|---|---|---|---|`);
for (const what of CASES) {
  const cpu = (backend: Case) => typical(results.get(`${what}|${backend}`)!).cpuSeconds.toFixed(2);
  console.log(
    `| ${labels[what]} | ${cpu("pglite")} s | ${serverUrl ? cpu("server") + " s" : "-"} | ${cpu("node")} s | ${serverUrl ? ratio(what, "server", "cpuSeconds").toFixed(2) + "x" : "-"} | ${ratio(what, "node", "cpuSeconds").toFixed(1)}x |`,
  );
}
for (const what of CASES) {
  console.log(
    `  rounds ${what} (s): ${backends
      .map(
        (b) =>
          `${b} ${results
            .get(`${what}|${b}`)!
            .map((r) => r.seconds.toFixed(2))
            .join("/")}`,
      )
      .join("; ")}`,
  );
}

// The backfill: 153 day files against one file of the same sales, each into a new home, open included.
const backfill = new Map<string, Run[]>();
for (let round = 0; round < 3; round++) {
  for (const backend of serverUrl ? (["pglite", "server"] as const) : (["pglite"] as const)) {
    for (const [name, paths] of [
      ["153 files", [days]],
      ["one file", [onePath]],
    ] as const) {
      const server = backend === "server" ? ["--database-url", await newDatabase()] : [];
      const run = timed(cli("ingest", ...paths, "--home", join(DATA, `backfill-${backend}-${name.replace(" ", "-")}-${round}`), ...server), { env: cacheEnv });
      backfill.set(`${backend}|${name}`, [...(backfill.get(`${backend}|${name}`) ?? []), run]);
    }
  }
}
console.log(`\nbackfill into a new home, open included (${backfillRows.toLocaleString("en-GB")} sales; median of 3 interleaved rounds):`);
for (const backend of serverUrl ? ["pglite", "server"] : ["pglite"]) {
  const many = typical(backfill.get(`${backend}|153 files`)!);
  const one = typical(backfill.get(`${backend}|one file`)!);
  console.log(
    `  ${backend === "pglite" ? "PGlite" : "server"}: 153 day files ${fmt(many)}, ${rows(backfillRows, many)}; one file of the same sales ${fmt(one)}, ${rows(backfillRows, one)} (${(many.seconds / one.seconds).toFixed(2)}x)`,
  );
}

// npm run demo, this tree and the baseline's, interleaved (each removes and makes its own .coffeetl-demo).
const demoRuns = new Map<string, Run[]>();
const trees = [{ name: "this tree", tree: ROOT }, ...(baseline ? [{ name: `baseline ${baseline.commit}`, tree: baseline.tree }] : [])];
for (let round = 0; round < 3; round++) {
  for (const t of round % 2 ? [...trees].reverse() : trees) {
    const run = timed(["--import", "tsx", join(t.tree, "scripts/demo.ts")], { cwd: t.tree, env: cacheEnv });
    demoRuns.set(t.name, [...(demoRuns.get(t.name) ?? []), run]);
  }
}
console.log(`\nnpm run demo (28 day files into a new home, then two queries; median of 3 interleaved rounds):`);
for (const t of trees)
  console.log(
    `  ${t.name}: ${fmt(typical(demoRuns.get(t.name)!))} (rounds ${demoRuns
      .get(t.name)!
      .map((r) => r.seconds.toFixed(1))
      .join("/")})`,
  );
if (baseline) {
  const ours = demoRuns.get("this tree")!;
  const theirs = demoRuns.get(`baseline ${baseline.commit}`)!;
  console.log(
    `  this tree is ${median(ours.map((r, i) => theirs[i]!.seconds / r.seconds)).toFixed(2)}x as fast as the baseline (median of the rounds' ratios)`,
  );
}

// The extract-transform Lambda handler's CPU for one day file (bundled, Lambda's V8 limits).
const handler = execFileSync(process.execPath, ["--import", "tsx", join(ROOT, "bench/handler-memory.ts"), String(dayRows), "--invocations=5"], {
  encoding: "utf8",
  env: { ...process.env, NODE_NO_WARNINGS: "1" },
});
const h = JSON.parse(handler.trim().split("\n").pop()!) as { cpuMs: number[]; peakRssMb: number };
console.log(
  `\nextract-transform handler, one day file (${dayRows} sales), stubbed S3: CPU ${h.cpuMs[0]} ms on a container's first invocation, ` +
    `${median(h.cpuMs.slice(1))} ms warm (median of ${h.cpuMs.length - 1}); peak RSS ${h.peakRssMb} MB`,
);
console.log(`load average at the end ${load()}`);

if (serverUrl) await dropDatabases();
await rm(DATA, { recursive: true, force: true, maxRetries: 2 }).catch(() => undefined);
