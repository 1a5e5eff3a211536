// The `coffeetl` command line, run as a user runs it (bin/coffeetl.js in a child process). One home
// is shared by the tests that need a warehouse (PGlite takes seconds to create one).
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FIXTURES, ROOT, assertNoPii, fixture, tempDir } from "./helpers.js";

const BIN = join(ROOT, "bin/coffeetl.js");
const run = (args: string[], env: Record<string, string> = {}) => {
  // A large maxBuffer: spawnSync's 1 MB default silently cut `sample --rows 150000` to 6,881 rows.
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 256 * 1024 * 1024 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
};
const json = <T = Record<string, unknown>[]>(args: string[]): T => {
  const r = run([...args, "--json"]);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
};

/** Every file under a folder, recursively. */
const filesUnder = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: "utf8" }).map((f) => join(dir, f)).filter((f) => statSync(f).isFile()) : [];

const dir = await tempDir();
const home = join(dir.path, "home");

test("sample writes the same canonical file for the same arguments; a bad argument is a usage error", () => {
  const args = ["sample", "--rows", "20", "--seed", "3", "--branch", "Southend-on-Sea", "--date", "2024-06-01"];
  const one = run(args);
  const two = run(args);
  assert.is(one.code, 0, one.stderr);
  assert.is(one.stdout, two.stdout);
  const lines = one.stdout.trimEnd().split("\n");
  assert.is(lines.length, 20);
  assert.match(lines[0]!, /^01\/06\/2024 08:00,Southend-on-Sea,[A-Za-z]+ [A-Za-z]+,/);
  const bad = run(["sample", "--date", "2024-13-01"]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /--date must be YYYY-MM-DD[\s\S]*Run `coffeetl sample --help`/);
  assert.is(run(["sample", "--rows", "ten"]).code, 2);
});

test("ingest prints per-file figures, reports a missing path and still runs the others, exit 1 at the end", () => {
  const missing = join(dir.path, "nope.csv");
  const all = run(["ingest", missing, FIXTURES, "--home", home]);
  assert.is(all.code, 1, "two files are unreadable and one path is missing");
  assert.match(all.stdout, /✔ .*canonical\.csv: 5 rows read, 5 sales new, 0 duplicates, 0 rejected, 0 warnings, \d+\.\d+s/);
  assert.match(all.stdout, /✔ .*broken_rows\.csv: 8 rows read, 3 sales new, 0 duplicates, 5 rejected, 1 warnings/);
  assert.match(all.stdout, /✘ .*not_csv\.csv: failed: binary content/);
  assert.match(all.stdout, /8 files: 6 processed, 2 failed; 14 new sales, .*; 1 path not found/);
  assert.match(all.stderr, /nope\.csv: no such file or folder/);
  assert.not.match(all.stderr, /\r/, "no progress redraws when stderr is not a terminal");
  assertNoPii(all.stdout + all.stderr, "ingest output");
  assert.equal(filesUnder(home).filter((f) => f.endsWith(".partial")), [], "a failed transform leaves no half-written file");

  const good = run(["ingest", fixture("canonical.csv"), fixture("legacy_crlf.csv")], { COFFEETL_HOME: home });
  assert.is(good.code, 0, good.stdout + good.stderr);
  assert.match(good.stdout, /2 files: 2 processed, 0 failed; 0 new sales, 8 duplicates/);
  assert.equal(json(["sql", "SELECT COUNT(*) AS n, SUM(total_amount) AS revenue FROM transactions", "--home", home]), [{ n: 14, revenue: "60.89" }]);
  const table = run(["sql", "SELECT branch_name FROM branches ORDER BY 1", "--home", home]);
  assert.match(table.stdout, /branch_name\n-+\nIsle of Wight\nKendal\n\(2 rows\)/);
  assertNoPii(run(["sql", "SELECT * FROM transactions", "--home", home]).stdout, "sql output");
});

test("raw keys never collide: a/uploads/day.csv and b/uploads/day.csv are two files, however they are named", () => {
  const day = (folder: string, rows: number, seed: string) => {
    mkdirSync(join(dir.path, folder, "uploads"), { recursive: true });
    writeFileSync(join(dir.path, folder, "uploads", "day.csv"), run(["sample", "--rows", String(rows), "--seed", seed]).stdout);
  };
  day("a", 30, "a");
  day("b", 40, "b");
  const r = run(["ingest", join(dir.path, "a/uploads"), join(dir.path, "b/uploads"), "--home", home]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /a\/uploads\/day\.csv: 30 rows read, 30 sales new/);
  assert.match(r.stdout, /b\/uploads\/day\.csv: 40 rows read, 40 sales new/);
  // The same file named through its folder or directly, relative or absolute, is one raw key.
  const again = spawnSync(process.execPath, [BIN, "ingest", "uploads/day.csv", "--home", home], { cwd: join(dir.path, "a"), encoding: "utf8" });
  assert.match(again.stdout, /1 file: 1 processed, 0 failed; 0 new sales, 30 duplicates/);
  const loads = json<{ source_key: string }[]>(["sql", "SELECT source_key FROM loads WHERE source_key LIKE '%/uploads/day.csv' ORDER BY 1", "--home", home]);
  assert.equal(loads.map((l) => l.source_key.split("/").slice(-3).join("/")), ["a/uploads/day.csv", "b/uploads/day.csv"]);
});

test("sql is read-only unless --write: DROP TABLE fails and changes nothing, one statement only", () => {
  const drop = run(["sql", "DROP TABLE transactions", "--home", home]);
  assert.is(drop.code, 1);
  assert.match(drop.stderr, /read-only transaction \(sql is read-only; add --write/);
  const escape = run(["sql", "SELECT 1; COMMIT; DROP TABLE transactions", "--home", home]);
  assert.is(escape.code, 1, "several statements cannot leave the read-only transaction");
  assert.equal(json(["sql", "SELECT COUNT(*) AS n FROM transactions", "--home", home]), [{ n: 84 }]);
  assert.is(run(["sql", "CREATE TABLE scratch (n INTEGER)", "--write", "--home", home]).code, 0);
  assert.equal(json(["sql", "SELECT COUNT(*) AS n FROM scratch", "--home", home]), [{ n: 0 }]);
  assert.is(run(["sql", "DROP TABLE scratch", "--write", "--home", home]).code, 0);
  const bad = run(["sql", "SELECT nope FROM transactions", "--home", home]);
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /coffeetl: .*nope/);
});

const SERVER = process.env.COFFEETL_TEST_DATABASE_URL;
test("sql on a PostgreSQL server: read-only too, one statement only, and no home needed", () => {
  if (!SERVER) {
    console.log("  [skip] sql on a server: COFFEETL_TEST_DATABASE_URL is not set (run scripts/start-postgres.sh)");
    return;
  }
  const noHome = join(dir.path, "no-home");
  const server = (args: string[]) => run([...args, "--database-url", SERVER, "--home", noHome]);
  assert.is(server(["sql", "CREATE TABLE coffeetl_cli_probe (n INTEGER)"]).code, 1);
  const escape = server(["sql", "SELECT 1; COMMIT; CREATE TABLE coffeetl_cli_probe (n INTEGER)"]);
  assert.is(escape.code, 1, "the server's simple protocol would run all three");
  const probe = server(["sql", "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name = 'coffeetl_cli_probe'", "--json"]);
  assert.equal(JSON.parse(probe.stdout), [{ n: 0 }]);
  assert.not.ok(existsSync(noHome), "a server needs no home");
});

test("a --home that does not exist is refused (exit 2, nothing created) unless the command creates one", () => {
  const typo = join(dir.path, "hoem");
  for (const args of [["sql", "SELECT 1"], ["status"], ["rejects", "x.csv"], ["reprocess"], ["dashboards"]]) {
    const r = run([...args, "--home", typo]);
    assert.is(r.code, 2, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${args[0]}: no CoffeETL home: .*hoem does not exist[\\s\\S]*coffeetl ingest`));
  }
  mkdirSync(join(dir.path, "empty"));
  assert.match(run(["status", "--home", join(dir.path, "empty")]).stderr, /is not a CoffeETL home/);
  assert.not.ok(existsSync(typo), "no home was created");
  assert.is(run(["status"], { COFFEETL_HOME: typo }).code, 2, "$COFFEETL_HOME is checked too");
  const demo = run(["demo", "--home", home]);
  assert.is(demo.code, 2, "the demo never mixes its sales into a home of real ones");
  assert.match(demo.stderr, /is a CoffeETL home already; give the demo a new one/);
});

test("usage errors exit 2 with a hint; per-command --help; --version", () => {
  const cases: [string[], RegExp][] = [
    [["frobnicate"], /unknown command "frobnicate"[\s\S]*Run `coffeetl --help`/],
    [[], /no command given/],
    [["ingest"], /ingest needs PATH\.\.\.[\s\S]*Run `coffeetl ingest --help`/],
    [["ingest", "x.csv", "--json"], /ingest: unknown option '--json'/],
    [["ingest", "x.csv", "--threads", "many"], /--threads takes a whole number from 0 to 16/],
    [["sql"], /sql needs "QUERY"/],
    [["sql", "select 1", "select 2"], /sql takes "QUERY", got/],
    [["status", "--limit=-1"], /--limit takes a whole number/],
    [["status", "--since", "yesterday"], /--since takes a date/],
    [["upload", "x.csv"], /upload needs --credentials FILE/],
    [["redrive"], /redrive needs --outputs FILE/],
    [["verify"], /verify needs --outputs FILE/],
  ];
  for (const [args, message] of cases) {
    const r = run([...args, "--home", home]);
    assert.is(r.code, 2, `${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const general = run(["--help"]);
  assert.is(general.code, 0);
  for (const c of ["ingest", "sql", "status", "rejects", "reprocess", "upload", "redrive", "verify", "sample", "dashboards", "demo"]) assert.match(general.stdout, new RegExp(`\\n  ${c} `));
  const ingest = run(["ingest", "--help"]);
  assert.is(ingest.code, 0);
  assert.match(ingest.stdout, /^Usage: coffeetl ingest PATH\.\.\. \[options\]/);
  assert.match(ingest.stdout, /--threads N/);
  assert.not.match(ingest.stdout, /--json/);
  assert.match(run(["help", "sql"]).stdout, /^Usage: coffeetl sql "QUERY"[\s\S]*--write/);
  assert.match(run(["status", "-h"]).stdout, /--failed/);
  const version = run(["--version"]);
  assert.is(version.code, 0);
  const pkg = JSON.parse(spawnSync("cat", [join(ROOT, "package.json")], { encoding: "utf8" }).stdout) as { version: string };
  assert.match(version.stdout, new RegExp(`^coffeetl ${pkg.version.replace(/\./g, "\\.")} \\((built|from source)`));
});

/** Runs the CLI with stdout into a pipe whose reader goes away after the first line. */
function closeAfterFirstLine(args: string[]): Promise<{ code: number | null; stderr: string; first: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT });
    let stderr = "";
    let first = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.stdout.once("data", (d: Buffer) => {
      first = d.toString().split("\n")[0]!;
      child.stdout.destroy();
    });
    child.on("close", (code) => resolve({ code, stderr, first }));
  });
}

test("output to a closed pipe ends quietly (ingest … | head -1)", async () => {
  const ingest = await closeAfterFirstLine(["ingest", FIXTURES, "--home", home]);
  assert.match(ingest.first, /^✔ .*broken_rows\.csv/);
  assert.is(ingest.code, 1, "the exit status is the run's own (two fixtures are unreadable)");
  assert.not.match(ingest.stderr, /EPIPE|Error|at /, ingest.stderr);
  const sample = await closeAfterFirstLine(["sample", "--rows", "2000000"]);
  assert.is(sample.code, 0);
  assert.is(sample.stderr, "");
  const sql = await closeAfterFirstLine(["sql", "SELECT * FROM transactions", "--home", home]);
  assert.is(sql.code, 0, sql.stderr);
  assert.is(sql.stderr, "");
});

test("half-written files: a stopped run removes its own, the next run removes a killed run's", async () => {
  // A file big enough to be mid-transform when the signal comes.
  const big = join(dir.path, "big.csv");
  writeFileSync(big, run(["sample", "--rows", "150000", "--seed", "big"]).stdout);
  const child = spawn(process.execPath, [BIN, "ingest", big, "--threads", "0", "--home", home], { cwd: ROOT });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  let partials: string[] = [];
  for (let i = 0; i < 600 && partials.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 25));
    partials = filesUnder(join(home, "transformed")).filter((f) => f.endsWith(".partial"));
  }
  assert.ok(partials.length > 0, "saw the transform's half-written files");
  child.kill("SIGTERM");
  assert.is(await exited, 143, stderr);
  assert.match(stderr, /stopped by SIGTERM; half-written files removed/);
  assert.equal(filesUnder(home).filter((f) => f.endsWith(".partial")), []);

  // A run killed outright (SIGKILL) cannot clean up: the next run removes what it left.
  const dead = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" }).stdout.trim();
  const stale = join(home, "transformed", `orphan.csv.${dead}.partial`);
  writeFileSync(stale, "half");
  const next = run(["ingest", fixture("canonical.csv"), "--home", home]);
  assert.is(next.code, 0, next.stderr);
  assert.not.ok(existsSync(stale));
});

test("ingest --threads: worker threads on request, the same warehouse as one thread", async () => {
  const file = join(dir.path, "busy-day.csv");
  writeFileSync(file, run(["sample", "--rows", "3000", "--seed", "threads"]).stdout);
  const threaded = run(["ingest", file, "--threads", "2", "--home", join(dir.path, "t1")]);
  // The same transaction-id secret, so that both warehouses can be compared row for row.
  mkdirSync(join(dir.path, "t2"));
  copyFileSync(join(dir.path, "t1", "transaction-id.key"), join(dir.path, "t2", "transaction-id.key"));
  const single = run(["ingest", file, "--threads", "0", "--home", join(dir.path, "t2")]);
  assert.is(threaded.code, 0, threaded.stderr);
  assert.is(single.code, 0, single.stderr);
  assert.match(threaded.stdout, /3000 rows read, \d+ sales new, .* on 2 threads/);
  assert.not.match(single.stdout, /threads/);
  // Every fact row, fingerprinted (the rows themselves would overflow a pipe's buffer here).
  const query =
    "SELECT COUNT(*) AS n, md5(string_agg(t.transaction_id || t.total_amount || i.product_id || i.quantity, ',' ORDER BY t.transaction_id, i.product_id)) AS rows " +
    "FROM transactions t JOIN transaction_items i USING (transaction_id)";
  const a = run(["sql", query, "--json", "--home", join(dir.path, "t1")]);
  const b = run(["sql", query, "--json", "--home", join(dir.path, "t2")]);
  assert.ok(JSON.parse(a.stdout)[0].n > 3000, a.stdout + a.stderr);
  assert.is(a.stdout, b.stdout);
});

test.after(() => dir.remove());
test.run();
