// `npm run bench`: how fast and how lean the transform and the load are, at 100,000 and
// 1,000,000 sales made by the sample generator. Not a test: it prints figures.
// Each phase runs alone in a child process built by esbuild (as the Lambdas run), so its peak
// RSS is its own. Set COFFEETL_BENCH_DATABASE_URL to also time the load on a PostgreSQL server.
// It starts with bench/everyday.ts (the commands users run daily; COFFEETL_BENCH_PHASES without
// `everyday` leaves it out). COFFEETL_BENCH_PHASES=transform leaves the loads out; COFFEETL_BENCH_BASELINE=<git ref> also
// runs that commit's transform, interleaved round by round with this one's (an A/B in one run).
import { execFileSync } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { baselineTree } from "./baseline.js";
import { build } from "esbuild";
import pg from "pg";
import { generateSample } from "../functions/core/sample.js";

const ROOT = new URL("..", import.meta.url).pathname;
const DATA = join(ROOT, "bench/.data");
const BUILD = join(DATA, "build");
const sizes = (process.env.COFFEETL_BENCH_ROWS ?? "100000,1000000").split(",").map(Number);
const serverUrl = process.env.COFFEETL_BENCH_DATABASE_URL;
/** Rounds of the csv-parse floor and the transforms (the loads run once: they take a minute). */
const repeats = Number(process.env.COFFEETL_BENCH_REPEATS ?? 3);
const phases = new Set((process.env.COFFEETL_BENCH_PHASES ?? "everyday,transform,load").split(","));
const baselineRef = process.env.COFFEETL_BENCH_BASELINE;

/** The transform worker's source in a tree (it moved to functions/core/engine/; a baseline may predate that). */
const workerSource = (root: string) =>
  [join(root, "functions/core/engine/transform-worker.ts"), join(root, "functions/core/transform-worker.ts")].find((path) => existsSync(path))!;

/** Bundles a source tree's phase runner and transform worker into `outdir`. */
const buildPhases = (root: string, outdir: string) =>
  build({
    entryPoints: { phase: join(root, "bench/phase.ts"), "transform-worker": workerSource(root) },
    absWorkingDir: root,
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    // PGlite finds its WebAssembly files next to its own module: leave it (and pg) in node_modules.
    external: ["@electric-sql/pglite", "pg", "pg-copy-streams"],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: "warning",
  });
await buildPhases(ROOT, BUILD);

/** The baseline commit's tree (bench/baseline.ts), its phases built. */
async function baselineBuild(ref: string): Promise<{ build: string; commit: string }> {
  const { tree, commit } = baselineTree(ROOT, ref);
  await buildPhases(tree, join(tree, "bench/.build"));
  return { build: join(tree, "bench/.build"), commit };
}
const baseline = baselineRef ? await baselineBuild(baselineRef) : undefined;

interface Phase {
  seconds: number;
  cpuSeconds: number;
  peakRssMb: number;
  rows: number;
  manifestKey?: string;
  /** Sales written by a transform. */
  transactions?: number;
}
const runPhaseOf = (build: string, args: string[]): Phase =>
  JSON.parse(
    execFileSync(process.execPath, [join(build, "phase.mjs"), ...args], { encoding: "utf8", maxBuffer: 1 << 20 })
      .trim()
      .split("\n")
      .pop()!,
  );
const runPhase = (...args: string[]): Phase => runPhaseOf(BUILD, args);

const results: Array<{ phase: string; sales: number } & Phase> = [];
const print = (phase: string, sales: number, p: Phase, note = "") => {
  results.push({ phase, sales, ...p });
  const rate = Math.round(p.rows / p.seconds).toLocaleString("en-GB");
  console.log(
    `${phase.padEnd(34)} ${sales.toLocaleString("en-GB").padStart(9)} sales  ${p.seconds.toFixed(2).padStart(7)} s  ${rate.padStart(9)} rows/s  ` +
      `CPU ${p.cpuSeconds.toFixed(1).padStart(5)} s  peak RSS ${Math.round(p.peakRssMb).toString().padStart(4)} MB${note}`,
  );
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
/** The run of median time, with the highest peak RSS of all runs (memory is reported at its worst). */
const typical = (runs: Phase[]): Phase => {
  const mid = median(runs.map((r) => r.seconds));
  return { ...runs.find((r) => r.seconds === mid)!, peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)) };
};

console.log(`CoffeETL benchmark: Node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? "?"})\n`);
// What users feel first: the everyday commands against a server and bare node, the demo, a day file's CPU.
if (phases.has("everyday")) {
  execFileSync(process.execPath, ["--import", "tsx", join(ROOT, "bench/everyday.ts")], { stdio: "inherit", env: process.env });
  console.log("");
}
for (const rows of phases.has("transform") || phases.has("load") ? sizes : []) {
  const home = join(DATA, `home-${rows}`);
  await rm(join(home, "transformed"), { recursive: true, force: true });
  await mkdir(join(home, "raw"), { recursive: true });
  const key = `bench-${rows}.csv`;
  const rawPath = join(home, "raw", key);
  if (!existsSync(rawPath)) {
    // One busy branch-day, made by the same generator as `coffeetl sample`.
    await pipeline(generateSample({ rows, seed: "bench", branch: "London Brixton", date: "2024-03-01" }), createWriteStream(rawPath));
  }
  // This VM's speed drifts by tens of percent between runs: the csv-parse floor and the
  // transforms run in interleaved rounds, each figure is the median round, and each transform is
  // also shown against csv-parse's time in the same round.
  const threads = availableParallelism() > 1 ? Math.min(availableParallelism(), 4) : 0;
  type Round = { floor: Phase; single: Phase; threaded?: Phase; baseSingle?: Phase; baseThreaded?: Phase };
  const rounds: Round[] = [];
  const transformRun = async (build: string, workers: number) => {
    await rm(join(home, "transformed"), { recursive: true, force: true });
    return runPhaseOf(build, ["transform", home, key, String(workers)]);
  };
  for (let round = 0; round < repeats; round++) {
    const floor = runPhase("csv-parse", home, key);
    const r: Round = { floor, single: undefined as unknown as Phase };
    // Alternate which build goes first, so neither always gets the warmer (or quieter) slot.
    const order = baseline && round % 2 === 1 ? ["base", "this"] : ["this", "base"];
    for (const which of order) {
      if (which === "base" && !baseline) continue;
      const build = which === "base" ? baseline!.build : BUILD;
      const single = await transformRun(build, 0);
      const threaded = threads ? await transformRun(build, threads) : undefined;
      if (which === "base") Object.assign(r, { baseSingle: single, ...(threaded ? { baseThreaded: threaded } : {}) });
      else Object.assign(r, { single, ...(threaded ? { threaded } : {}) });
    }
    rounds.push(r);
  }
  const versusFloor = (pick: (r: Round) => Phase) => `  ${median(rounds.map((r) => pick(r).seconds / r.floor.seconds)).toFixed(2)}x csv-parse's time`;
  const versusBase = (pick: (r: Round) => Phase, base: (r: Round) => Phase) =>
    `  ${median(rounds.map((r) => base(r).seconds / pick(r).seconds)).toFixed(3)}x baseline's speed (median of rounds)`;
  print("csv-parse alone (reference floor)", rows, typical(rounds.map((r) => r.floor)));
  // One sale per till line: the sample holds identical sales (same minute, name and basket), all kept.
  const kept = rounds
    .map((r) => [r.single, r.threaded])
    .flat()
    .filter((p): p is Phase => p !== undefined);
  if (kept.some((p) => p.transactions !== rows)) throw new Error(`sales written ${kept.map((p) => p.transactions).join(", ")}, not ${rows}`);
  console.log(`every transform wrote ${rows.toLocaleString("en-GB")} sales of ${rows.toLocaleString("en-GB")} lines`);
  const single = typical(rounds.map((r) => r.single));
  print(
    "transform (1 thread)",
    rows,
    single,
    versusFloor((r) => r.single),
  );
  if (threads)
    print(
      `transform (${threads} worker threads)`,
      rows,
      typical(rounds.map((r) => r.threaded!)),
      versusFloor((r) => r.threaded!),
    );
  if (baseline) {
    print(
      `baseline ${baseline.commit} (1 thread)`,
      rows,
      typical(rounds.map((r) => r.baseSingle!)),
      versusFloor((r) => r.baseSingle!),
    );
    if (threads)
      print(
        `baseline ${baseline.commit} (${threads} threads)`,
        rows,
        typical(rounds.map((r) => r.baseThreaded!)),
        versusFloor((r) => r.baseThreaded!),
      );
    console.log(
      `  this build vs baseline: 1 thread${versusBase(
        (r) => r.single,
        (r) => r.baseSingle!,
      )}`,
    );
    if (threads)
      console.log(
        `  this build vs baseline: ${threads} threads${versusBase(
          (r) => r.threaded!,
          (r) => r.baseThreaded!,
        )}`,
      );
  }
  const times = (pick: (r: Round) => Phase | undefined) =>
    rounds
      .map((r) => pick(r)?.seconds.toFixed(2))
      .filter(Boolean)
      .join(" / ");
  console.log(
    `  rounds (s): csv-parse ${times((r) => r.floor)}; 1 thread ${times((r) => r.single)}${threads ? `; ${threads} threads ${times((r) => r.threaded)}` : ""}`,
  );
  if (baseline)
    console.log(`  baseline rounds (s): 1 thread ${times((r) => r.baseSingle)}${threads ? `; ${threads} threads ${times((r) => r.baseThreaded)}` : ""}`);
  if (!phases.has("load")) {
    await rm(home, { recursive: true, force: true, maxRetries: 2 }).catch(() => {});
    continue;
  }
  print("load, embedded PGlite (file-backed)", rows, runPhase("load", home, single.manifestKey!));
  if (serverUrl) {
    // A database of its own, so an earlier run's loads never make this one a no-op.
    const name = `coffeetl_bench_${process.pid}_${rows}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    try {
      print("load, PostgreSQL server", rows, runPhase("load", home, single.manifestKey!, url.toString()));
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  }
  await rm(home, { recursive: true, force: true, maxRetries: 2 }).catch(() => {});
}
if (phases.has("transform") || phases.has("load")) {
  console.log(`\nrows/s counts raw data rows read; peak RSS is the phase's whole process (the highest of ${repeats} rounds).`);
  console.log("The transform target (200,000 sales/s where csv-parse alone reads 320,000 rows/s) is 1.60x csv-parse's time.");
}

// The load's own figures (concurrency, batching, growth, the COPY floor): bench/load-bench.ts.
if (phases.has("load")) execFileSync(process.execPath, ["--import", "tsx", join(ROOT, "bench/load-bench.ts")], { stdio: "inherit", env: process.env });
// The dashboards one second after a 1,000,000-sale load (issue 22): bench/dashboards-bench.ts.
if (phases.has("load")) execFileSync(process.execPath, ["--import", "tsx", join(ROOT, "bench/dashboards-bench.ts")], { stdio: "inherit", env: process.env });
