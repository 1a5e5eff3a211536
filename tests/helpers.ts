// Shared test helpers: fixtures, temporary homes, the optional real samples.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import type { TransformSummary } from "../functions/core/manifest.js";
import { transform, type TransformOptions } from "../functions/core/transform.js";
import type { OutputName } from "../functions/core/engine/csv-writer.js";
import { transformObject as transformAnyObject, type TransformedOutcome } from "../functions/app/transform-object.js";

export const ROOT = new URL("..", import.meta.url).pathname;
export const FIXTURES = join(ROOT, "tests/fixtures/raw");
export const fixture = (name: string) => join(FIXTURES, name);

/** The real branch files beside the project (not shipped with it); undefined when absent. */
export const SHARED_SAMPLES = [join(ROOT, "../shared/samples"), process.env.COFFEETL_SAMPLES ?? ""].find((p) => p && existsSync(p));

/** Names and card numbers planted in the fixtures: none may appear outside the raw files. */
export const FIXTURE_PII = [
  "Zebedee",
  "Quixote",
  "Marigold",
  "Featherstonehaugh",
  "Percival",
  "Underhill",
  "Ottoline",
  "Brackenbury",
  "4111222233334444",
  "5500666677778888",
  "4000111122223333",
  "4.11122E+15",
];

export function assertNoPii(content: string, where: string, pii: readonly string[] = FIXTURE_PII): void {
  for (const value of pii) {
    if (content.includes(value)) throw new Error(`${where} contains personal data (${value.slice(0, 3)}…)`);
  }
}

/** How a test runs the built CLI; each option left out is what the test process itself has. */
export interface CoffeetlOptions {
  /** The working directory (the repository's root unless given). */
  cwd?: string;
  /** The child's whole environment (this process's unless given). */
  env?: NodeJS.ProcessEnv;
  /** Node's own flags before bin/coffeetl.js, e.g. ["--import", preload] to watch what the CLI loads. */
  nodeArgs?: string[];
}

export interface CoffeetlOutput {
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved in the order they arrived, as a terminal shows them. */
  combined: string;
}

export interface CoffeetlResult extends CoffeetlOutput {
  /** The exit status; null when a signal ended the process. */
  status: number | null;
}

/** A CLI process still running, for tests that signal it or watch its output before it ends. */
export interface RunningCoffeetl {
  child: ChildProcessWithoutNullStreams;
  /** The output so far, appended to as it arrives. */
  output: CoffeetlOutput;
  /** Resolves once the process has exited and its streams have closed. */
  done: Promise<CoffeetlResult>;
}

const coffeetlArgv = (args: string[], options: CoffeetlOptions) => [...(options.nodeArgs ?? []), join(ROOT, "bin/coffeetl.js"), ...args];

/** Starts the built CLI (`bin/coffeetl.js`) in its own process, as users run it. */
export function startCoffeetl(args: string[], options: CoffeetlOptions = {}): RunningCoffeetl {
  const child = spawn(process.execPath, coffeetlArgv(args, options), { cwd: options.cwd ?? ROOT, env: options.env ?? process.env });
  const output: CoffeetlOutput = { stdout: "", stderr: "", combined: "" };
  child.stdout.on("data", (d) => {
    output.stdout += d;
    output.combined += d;
  });
  child.stderr.on("data", (d) => {
    output.stderr += d;
    output.combined += d;
  });
  const done = new Promise<CoffeetlResult>((resolve) => child.on("close", (status) => resolve({ status, ...output })));
  return { child, output, done };
}

/** The built CLI in its own process, as users run it; resolves when it exits. */
export function runCoffeetl(args: string[], options: CoffeetlOptions = {}): Promise<CoffeetlResult> {
  return startCoffeetl(args, options).done;
}

export interface CoffeetlSyncOptions extends CoffeetlOptions {
  /** Text for its standard input, e.g. the query of `sql -`. */
  input?: string;
}

/**
 * The same, synchronously (no `combined`: spawnSync keeps the two streams apart). A large maxBuffer:
 * spawnSync's 1 MB default silently cut `sample --rows 150000` to 6,881 rows.
 */
export function runCoffeetlSync(args: string[], options: CoffeetlSyncOptions = {}): Omit<CoffeetlResult, "combined"> {
  const r = spawnSync(process.execPath, coffeetlArgv(args, options), {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? process.env,
    input: options.input,
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export async function tempDir(prefix = "coffeetl-test-"): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  // Retried: a warm-warehouse keeper opening a home just used may still be writing into it as it goes (it then exits).
  return { path, remove: () => rm(path, { recursive: true, force: true, maxRetries: 5 }) };
}

export interface TransformedText {
  summary: TransformSummary;
  files: Record<OutputName, string>;
}

/** Runs the pure transform over bytes and collects its five outputs as text. */
export async function transformText(
  input: string | Buffer,
  transactionIdKey = "test-secret",
  sourceKey = "fixture.csv",
  options: Omit<TransformOptions, "transactionIdKey" | "sourceKey"> = {},
): Promise<TransformedText> {
  const run = transform(Readable.from([Buffer.from(input)]), { ...options, transactionIdKey, sourceKey });
  const names = Object.keys(run.outputs) as OutputName[];
  const texts = Promise.all(names.map((n) => text(run.outputs[n])));
  const [summary, contents] = await Promise.all([run.done, texts]);
  return { summary, files: Object.fromEntries(names.map((n, i) => [n, contents[i]!])) as Record<OutputName, string> };
}

/** CSV text with a header → row objects (test-side reader, independent of the writer). */
export function csvRows(content: string): Record<string, string>[] {
  const lines = content.trimEnd().split("\n");
  const header = lines[0]!.split(",");
  return lines.slice(1).map((line) => {
    const cells: string[] = [];
    let cur = "";
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      if (quoted) {
        if (c === '"' && line[i + 1] === '"') {
          cur += '"';
          i++;
        } else if (c === '"') quoted = false;
        else cur += c;
      } else if (c === '"') quoted = true;
      else if (c === ",") {
        cells.push(cur);
        cur = "";
      } else cur += c;
    }
    cells.push(cur);
    return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? ""]));
  });
}

/** The application's transformObject for tests whose keys are never refused: a refusal throws its reason. */
export async function transformObject(...args: Parameters<typeof transformAnyObject>): Promise<TransformedOutcome> {
  const outcome = await transformAnyObject(...args);
  if (outcome.status === "refused") throw new Error(`${outcome.failure.source.key}: ${outcome.failure.reason}`);
  return outcome;
}
