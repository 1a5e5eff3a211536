// The README and docs walked as a newcomer walks them: a fresh `git clone` of this repository's HEAD
// into a temporary folder, `npm ci`, `npm run demo`, then every `coffeetl` line of the README's quick
// start, its daily-check block and docs/dashboards.md's preview block, and every command of the
// README's command table, through the clone's bin/coffeetl.js running its built bundle. Each line is
// taken from the documents themselves (a line the walk does not know fails the test), run as written
// but for placeholder paths, and checked for its exit status, its output and the absence of any
// deprecation warning. AWS-only lines (redrive, uploads with credentials) are run for their --help here;
// tests/uploader.test.ts sends files to a stand-in S3.
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ROOT, tempDir } from "./helpers.js";

const hasGit = spawnSync("git", ["--version"]).status === 0 && existsSync(join(ROOT, ".git"));
if (!hasGit) console.log("[skip] the README walk: git or the repository's .git is missing");

const dir = await tempDir("coffeetl-walk-");
const clone = join(dir.path, "coffeetl");
const started = Date.now();
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The environment of a user's shell: this Node first on PATH, none of npm's own variables of this run. */
const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_|^COFFEETL_|^DATABASE_URL$|^NODE_OPTIONS$/i.test(k)));
env.PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ""}`;
env.NO_COLOR = "1";

interface Ran {
  line: string;
  status: number | null;
  stdout: string;
  stderr: string;
}

const sh = (cmd: string, args: string[], options: { cwd?: string; input?: string } = {}): SpawnSyncReturns<string> =>
  spawnSync(cmd, args, {
    cwd: options.cwd ?? clone,
    env,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    ...(options.input !== undefined ? { input: options.input } : {}),
  });

/** Splits a documented command line into words as sh does for the quoting the docs use ('…', "…"). */
function words(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote: string | undefined;
  let any = false;
  for (const c of line) {
    if (quote) {
      if (c === quote) quote = undefined;
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      any = true;
    } else if (/\s/.test(c)) {
      if (cur || any) out.push(cur);
      cur = "";
      any = false;
    } else cur += c;
  }
  if (cur || any) out.push(cur);
  return out;
}

/** Every line starting with `coffeetl ` in the ```sh blocks of a document's section (comments dropped). */
function documentedLines(file: string, section: RegExp): string[] {
  const text = readFileSync(join(clone, file), "utf8");
  const start = text.search(section);
  assert.ok(start >= 0, `${file}: no section ${section}`);
  const rest = text.slice(start + 1);
  const end = rest.search(/\n##? /);
  const body = end < 0 ? rest : rest.slice(0, end);
  const lines: string[] = [];
  for (const block of body.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const raw of block[1]!.split("\n")) {
      const line = raw.replace(/\s+#\s.*$/, "").trim();
      if (line.startsWith("coffeetl ")) lines.push(line);
    }
  }
  return lines;
}

const ran: Ran[] = [];
/** Runs `coffeetl ARGS` as the user does, through the clone's bin/coffeetl.js. */
function coffeetl(line: string, options: { cwd?: string; input?: string; stdoutTo?: string } = {}): Ran {
  const r = sh(process.execPath, [join(clone, "bin/coffeetl.js"), ...words(line).slice(1)], options);
  if (options.stdoutTo) writeFileSync(options.stdoutTo, r.stdout);
  const result = { line, status: r.status, stdout: r.stdout, stderr: r.stderr };
  ran.push(result);
  return result;
}

const ok = (r: Ran, output?: RegExp) => {
  assert.is(r.status, 0, `\`${r.line}\` exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  if (output) assert.match(r.stdout, output, `\`${r.line}\` printed:\n${r.stdout}`);
};

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/** `coffeetl dashboards --serve …`: the page answers, then Ctrl-C (SIGINT) stops it with status 0. */
async function serve(line: string, cwd: string): Promise<{ page: string; ms: number }> {
  // The documented port may be taken on this machine: a free one instead; no --port: the one it says.
  const port = await freePort();
  const argv = words(line.replace(/--port \d+/, `--port ${port}`)).slice(1);
  const urlOf = () => /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout)?.[1];
  const child = spawn(process.execPath, [join(clone, "bin/coffeetl.js"), ...argv], { cwd, env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
  try {
    const deadline = Date.now() + 120_000;
    while (!urlOf()) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`\`${line}\` did not serve: ${stdout}${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    if (line.includes("--port")) assert.is(urlOf(), `http://127.0.0.1:${port}/`);
    const response = await fetch(urlOf()!);
    const page = await response.text();
    assert.is(response.status, 200, `\`${line}\`: ${page.slice(0, 500)}`);
    return { page, ms: Date.now() - started };
  } finally {
    child.kill("SIGINT");
    const status = await closed;
    ran.push({ line, status, stdout, stderr });
    assert.is(status, 0, `\`${line}\` after Ctrl-C: ${stderr}`);
  }
}

test("a fresh clone installs and builds with npm ci, and the demo prints figures", () => {
  if (!hasGit) return;
  const cloned = sh("git", ["clone", "--quiet", "--no-hardlinks", ROOT, clone], { cwd: dir.path });
  assert.is(cloned.status, 0, cloned.stderr);
  const ci = sh("npm", ["ci", "--prefer-offline", "--no-audit", "--no-fund"]);
  assert.is(ci.status, 0, ci.stdout + ci.stderr);
  console.log(`  npm ci done ${seconds(Date.now() - started)} after the clone started`);
  assert.ok(existsSync(join(clone, "dist/cli/main.js")), "npm ci built the CLI");
  assert.ok(existsSync(join(clone, "dist/coffeetl-upload.mjs")), "npm ci built the uploader");
  const version = coffeetl("coffeetl --version");
  ok(version, /\(built CLI, dist\/cli; Node /);
  const demo = sh("npm", ["run", "demo"]);
  ran.push({ line: "npm run demo", status: demo.status, stdout: demo.stdout, stderr: demo.stderr });
  assert.is(demo.status, 0, demo.stdout + demo.stderr);
  assert.match(demo.stdout, /28 files: 28 processed, 0 failed; \d+ new sales/);
  assert.match(demo.stdout, /\(4 rows\)/, "revenue for each of the four branches");
  console.log(`  clone → first figures (npm run demo): ${seconds(Date.now() - started)}`);
});

test("the quick start's commands on your own files, as the README writes them", async () => {
  if (!hasGit) return;
  const lines = documentedLines("README.md", /\n## Quick start\n/);
  assert.ok(lines.length >= 4, lines.join("\n"));
  const files = join(clone, ".coffeetl-demo", "uploads");
  for (const line of lines) {
    const command = words(line)[1];
    const r = line.includes("--serve") ? undefined : coffeetl(line.replace("path/to/files-or-folders/", files));
    if (command === "ingest") ok(r!, /28 files: 28 processed, 0 failed; \d+ new sales/);
    else if (command === "status") ok(r!, /^28 files: 28 loaded/);
    else if (command === "sql") ok(r!, /^count \| sum *\n-+\+-+\n\d+ +\| \d+\.\d\d\n\(1 row\)/);
    else if (command === "dashboards") {
      ok(r!, /wrote .*preview\.html: 2 dashboards, \d+ panels from the warehouse/);
      assert.not.match(r!.stdout, /problems/);
      assert.match(readFileSync(join(clone, "preview.html"), "utf8"), /CoffeETL · Sales/);
      console.log(`  clone → the dashboards page (preview.html): ${seconds(Date.now() - started)}`);
    } else assert.unreachable(`the walk does not know the quick start's line \`${line}\``);
  }
  const served = await serve("coffeetl dashboards --serve", clone);
  assert.match(served.page, /CoffeETL · Sales/);
  console.log(`  clone → the dashboards page served (--serve): ${seconds(served.ms)}`);
});

test("every command of the README's command table, and its daily-check lines", () => {
  if (!hasGit) return;
  const readme = readFileSync(join(clone, "README.md"), "utf8");
  const table = readme.slice(readme.indexOf("## Command line"));
  const commands = [...table.slice(0, table.indexOf("\n\n", table.indexOf("| command |"))).matchAll(/^\| `(\w+)/gm)].map((m) => m[1]!);
  const files = join(clone, ".coffeetl-demo", "uploads");
  const someFile = readdirSync(files)
    .filter((f) => f.endsWith(".csv"))
    .sort()[0]!;
  const walks: Record<string, () => void> = {
    ingest: () => ok(coffeetl(`coffeetl ingest ${files}`), /28 files: 28 processed, 0 failed; 0 new sales/),
    status: () => {
      ok(coffeetl("coffeetl status --failed"), /No failed files\./);
      const json = coffeetl("coffeetl status --json --limit 0");
      ok(json);
      assert.is((JSON.parse(json.stdout) as unknown[]).length, 28);
    },
    rejects: () => ok(coffeetl(`coffeetl rejects ${someFile}`), /\d+ rows read, \d+ rejected/),
    reprocess: () => ok(coffeetl(`coffeetl reprocess ${files}`), /28 files: 28 processed, 0 failed; 0 new sales/),
    sql: () => {
      ok(coffeetl('coffeetl sql "SELECT COUNT(*), COUNT(DISTINCT branch_id) FROM transactions"'), /^count \| count\n/);
      const json = coffeetl('coffeetl sql "SELECT COUNT(*) AS n FROM branches" --json');
      ok(json);
      assert.equal(JSON.parse(json.stdout), [{ n: 4 }]);
      ok(coffeetl('coffeetl sql "SELECT branch_name FROM branches ORDER BY 1" --csv'), /^branch_name\r\nChesterfield\r\n/);
      ok(coffeetl("coffeetl sql -", { input: "SELECT COUNT(*) AS n FROM products" }), /^n\n/);
      const refused = coffeetl("coffeetl sql \"COPY transactions TO '/tmp/x.csv'\"");
      assert.is(refused.status, 1);
      assert.match(refused.stderr, /refused without --write/);
    },
    upload: () => {
      ok(coffeetl(`coffeetl upload --check ${files}`), /28 files checked: 28 would load, 0 would fail\. Nothing was sent\./);
      const standalone = sh(process.execPath, [join(clone, "dist/coffeetl-upload.mjs"), "--check", join(files, someFile)], { cwd: dir.path });
      ran.push({ line: "node coffeetl-upload.mjs --check FILE", status: standalone.status, stdout: standalone.stdout, stderr: standalone.stderr });
      assert.is(standalone.status, 0, standalone.stderr);
      ok(coffeetl("coffeetl upload --help"), /--credentials FILE/);
    },
    // A file withdrawn, then ingested again: the home ends as it began for the walks after it.
    forget: () => {
      ok(coffeetl(`coffeetl forget ${someFile}`), /Would withdraw [\s\S]*Nothing changed/);
      ok(coffeetl(`coffeetl forget ${someFile} --yes`), /Withdrew /);
      ok(coffeetl(`coffeetl status --json --limit 0`), /"withdrawn"/);
      ok(coffeetl(`coffeetl ingest ${join(files, someFile)}`), /1 files?: 1 processed, 0 failed; [1-9]\d* new sales/);
    },
    redrive: () => ok(coffeetl("coffeetl redrive --help"), /--outputs FILE/),
    verify: () => ok(coffeetl("coffeetl verify --help"), /--outputs/),
    sample: () => {
      const r = coffeetl("coffeetl sample --rows 5 --seed 1 --branch Leeds --date 2024-03-30");
      ok(r);
      assert.is(r.stdout.trim().split("\n").length, 5);
    },
    dashboards: () => ok(coffeetl("coffeetl dashboards --out walk.html --from 2024-03-05 --to 2024-03-06"), /wrote .*walk\.html: 2 dashboards/),
    // `npm run demo` (`coffeetl demo --home .coffeetl-demo`) ran it into a new home in the first test.
    demo: () => ok(coffeetl("coffeetl demo --help"), /Writes 28 branch-day files/),
  };
  assert.ok(commands.length >= 10, commands.join(" "));
  for (const command of commands) {
    const walk = walks[command];
    if (!walk) assert.unreachable(`the README's command table has \`${command}\`, which the walk does not run`);
    const before = ran.length;
    // The table's commands run on the quick start's home (./.coffeetl, the default).
    walk!();
    assert.ok(ran.length > before, `${command}: nothing ran`);
  }
  ok(coffeetl("coffeetl --help"), /Commands:/);

  // The daily check: a file's end as the README shows it, and a folder as a prefix.
  for (const line of documentedLines("README.md", /\n### The daily check/)) {
    const command = words(line)[1];
    // AWS only (tests/cli-aws.test.ts runs these against the Data API stand-in); redrive's --help ran above.
    if (command === "redrive" || line.includes("--outputs")) continue;
    const r = coffeetl(line.replace("leeds_2024-03-01.csv", someFile).replace("exports/leeds/", files));
    if (command === "status") ok(r, /No failed files\./);
    else if (command === "rejects") ok(r, /rows read/);
    else if (command === "reprocess") ok(r, /28 files: 28 processed/);
    else assert.unreachable(`the walk does not know the daily check's line \`${line}\``);
  }
});

test("docs/dashboards.md's preview block, on branch files made as its last line says", async () => {
  if (!hasGit) return;
  const work = join(dir.path, "branch-files");
  mkdirSync(work);
  // "No files of your own? `coffeetl sample --branch Leeds --date 2024-03-30 > leeds.csv` makes one."
  const docs = readFileSync(join(clone, "docs/dashboards.md"), "utf8");
  const sampleLine = /`(coffeetl sample [^`>]*)> leeds\.csv`/.exec(docs)?.[1]?.trim();
  assert.ok(sampleLine, "the docs say how to make a file");
  ok(coffeetl(sampleLine!, { stdoutTo: join(work, "leeds.csv") }));
  ok(coffeetl(sampleLine!.replace("Leeds", "York"), { stdoutTo: join(work, "york.csv") }));
  const lines = documentedLines("docs/dashboards.md", /\n## Preview locally\n/);
  assert.ok(lines.length >= 4, lines.join("\n"));
  for (const line of lines) {
    if (line.includes("--serve")) {
      const served = await serve(line, dir.path);
      assert.match(served.page, /CoffeETL · Sales/);
      continue;
    }
    const r = coffeetl(line.replace("path/to/branch-files/", work), { cwd: dir.path });
    const command = words(line)[1];
    if (command === "ingest") ok(r, /2 files: 2 processed, 0 failed/);
    else if (command === "dashboards") {
      ok(r, new RegExp(`wrote .*${line.includes("--out") ? "preview" : "dashboards"}\\.html: 2 dashboards, \\d+ panels from the warehouse`));
      assert.not.match(r.stdout, /problems/, `\`${line}\`: ${r.stdout}`);
    } else assert.unreachable(`the walk does not know docs/dashboards.md's line \`${line}\``);
  }
});

test("no command printed a deprecation warning or a stack trace", () => {
  if (!hasGit) return;
  assert.ok(ran.length > 20, `${ran.length} commands ran`);
  for (const r of ran) {
    assert.not.match(
      r.stderr,
      /DeprecationWarning|\(node:\d+\) |NodeVersion|no longer supports|\n\s+at .+:\d+:\d+\)?\n/,
      `\`${r.line}\` printed:\n${r.stderr}`,
    );
  }
  console.log(`  ${ran.length} documented commands walked in ${seconds(Date.now() - started)}`);
});

test.after(() => dir.remove());
test.run();
