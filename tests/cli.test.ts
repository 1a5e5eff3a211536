// The `coffeetl` command line, run as a user runs it (bin/coffeetl.js in a child process). One home
// is shared by the tests that need a warehouse (PGlite takes seconds to create one).
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FIXTURES, ROOT, assertNoPii, fixture, runCoffeetl, runCoffeetlSync, startCoffeetl, tempDir } from "./helpers.js";

const run = (args: string[], env: Record<string, string> = {}) => {
  const result = runCoffeetlSync(args, { env: { ...process.env, ...env } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
};
const json = <T = Record<string, unknown>[]>(args: string[]): T => {
  const r = run([...args, "--json"]);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
};

/** Every file under a folder, recursively. */
const filesUnder = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true, encoding: "utf8" })
        .map((f) => join(dir, f))
        .filter((f) => statSync(f).isFile())
    : [];

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
  assert.match(lines[0]!, /^01\/06\/2024 08:\d\d,Southend-on-Sea,[A-Za-z]+ [A-Za-z]+,/);
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
  assert.equal(
    filesUnder(home).filter((f) => f.endsWith(".partial")),
    [],
    "a failed transform leaves no half-written file",
  );

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
  const again = runCoffeetlSync(["ingest", "uploads/day.csv", "--home", home], { cwd: join(dir.path, "a") });
  assert.match(again.stdout, /1 file: 1 processed, 0 failed; 0 new sales, 30 duplicates/);
  const loads = json<{ source_key: string }[]>(["sql", "SELECT source_key FROM loads WHERE source_key LIKE '%/uploads/day.csv' ORDER BY 1", "--home", home]);
  assert.equal(
    loads.map((l) => l.source_key.split("/").slice(-3).join("/")),
    ["a/uploads/day.csv", "b/uploads/day.csv"],
  );
});

test("sql is read-only unless --write: DROP TABLE fails and changes nothing, one statement only", () => {
  const drop = run(["sql", "DROP TABLE transactions", "--home", home]);
  assert.is(drop.code, 1);
  assert.match(drop.stderr, /sql: refused without --write: a DROP statement/);
  // A data-modifying WITH passes the statement check; the READ ONLY transaction still stops it.
  const cte = run(["sql", "WITH d AS (DELETE FROM transactions RETURNING 1) SELECT COUNT(*) FROM d", "--home", home]);
  assert.is(cte.code, 1);
  assert.match(cte.stderr, /read-only transaction \(sql is read-only; add --write/);
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

test("sql keeps every column of a name (table, --json, --csv); the query from --file or standard input", () => {
  const table = run(["sql", "SELECT COUNT(*), SUM(total_amount), COUNT(DISTINCT branch_id) FROM transactions", "--home", home]);
  assert.is(table.code, 0, table.stderr);
  assert.match(table.stdout, /^count \| sum +\| count\n/, "both count columns, as psql shows them");
  const [, values] = /\n-[-+]+\n(.*)\n/.exec(table.stdout)!;
  const [expected] = json<{ sum: string; n: number }[]>(["sql", "SELECT SUM(total_amount), COUNT(DISTINCT branch_id) AS n FROM transactions", "--home", home]);
  assert.ok(expected!.n !== 84);
  assert.equal(
    values!.split("|").map((v) => v.trim()),
    ["84", expected!.sum, String(expected!.n)],
    "the branch count under the second count, not in place of the first",
  );
  const two = run(["sql", "SELECT 1 AS a, 2 AS a", "--home", home]);
  assert.match(two.stdout, /^a \| a\n--\+--\n1 \| 2\n\(1 row\)\n$/);
  const asJson = run(["sql", "SELECT 1 AS a, 2 AS a, 3 AS a_2", "--json", "--home", home]);
  assert.equal(JSON.parse(asJson.stdout), [{ a: 1, a_2: 2, a_2_2: 3 }], "renamed, never dropped");
  assert.match(asJson.stderr, /columns sharing a name are a_2, a_2_2 in the JSON/);
  const csv = run(["sql", "SELECT 1 AS a, 'x,\"y\"' AS a, NULL AS b", "--csv", "--home", home]);
  assert.is(csv.stdout, 'a,a,b\r\n1,"x,""y""",\r\n');
  const file = join(dir.path, "query.sql");
  writeFileSync(file, "-- sales; one per line\nSELECT COUNT(*) AS n FROM transactions\n");
  assert.equal(JSON.parse(run(["sql", "--file", file, "--json", "--home", home]).stdout), [{ n: 84 }]);
  const stdin = runCoffeetlSync(["sql", "-", "--json", "--home", home], { input: "SELECT COUNT(*) AS n FROM transactions" });
  assert.equal(JSON.parse(stdin.stdout), [{ n: 84 }], stdin.stderr);
});

test("sql without --write refuses COPY ... TO, pg_read_file, COPY ... TO PROGRAM and two statements; the home opens after each", () => {
  const target = join(dir.path, "copied.txt");
  const marker = join(dir.path, "ran-a-program");
  const refused: [string, RegExp][] = [
    [`COPY (SELECT 'x') TO '${join(home, "warehouse", "PG_VERSION")}'`, /refused without --write: COPY reads and writes the database machine's files/],
    [`COPY transactions TO '${target}'`, /refused without --write: COPY/],
    ["SELECT pg_read_file('/etc/hostname')", /refused without --write: pg_read_file\(\) reads the database machine's files/],
    ["select PG_CATALOG.pg_read_binary_file('/etc/passwd')", /pg_read_binary_file\(\)/],
    [`COPY (SELECT 1) TO PROGRAM 'touch ${marker}'`, /refused without --write: COPY/],
    ["SELECT 1; SELECT 2", /refused without --write: 2 statements \(separated by ";"\); sql runs one at a time/],
    ["SELECT 1; COMMIT; DROP TABLE transactions", /3 statements/],
    ["/* a comment; */ SELECT 'a;b' AS x; -- trailing ; in a comment", /^$/],
  ];
  for (const [query, message] of refused) {
    const r = run(["sql", query, "--home", home]);
    if (message.source === "^$") assert.is(r.code, 0, `${query}: ${r.stderr}`);
    else {
      assert.is(r.code, 1, `${query}: exit ${r.code}`);
      assert.match(r.stderr, message);
      assert.is(r.stderr.trim().split("\n").length, 1, "one clear line");
    }
    assert.equal(json(["sql", "SELECT COUNT(*) AS n FROM transactions", "--home", home]), [{ n: 84 }], `the home opens after ${query}`);
  }
  assert.not.ok(existsSync(target));
  assert.not.ok(existsSync(marker));
});

test("the read-only run holds even with the statement check bypassed: the reader role cannot touch files or programs", async () => {
  const { runReadOnly } = await import("../cli/sql.js");
  const { openLocalPipeline } = await import("../functions/local/pipeline.js");
  const { PostgresWarehouse } = await import("../functions/local/postgres-warehouse.js");
  const marker = join(dir.path, "bypass-program");
  const attacks = [
    `COPY (SELECT 'x') TO '${join(dir.path, "bypass-file")}'`,
    "SELECT pg_read_file('/etc/hostname')",
    `COPY (SELECT 1) TO PROGRAM 'touch ${marker}'`,
    "SELECT set_config('role', session_user, false), pg_read_file('/etc/hostname')",
  ];
  const check = async (db: Parameters<typeof runReadOnly>[0], where: string) => {
    for (const attack of attacks) {
      await runReadOnly(db, attack).then(
        () => assert.unreachable(`${where}: ${attack} ran`),
        (e: Error) => assert.match(e.message, /permission denied|must be superuser or have privileges of the pg_/, `${where}: ${attack}: ${e.message}`),
      );
    }
    const read = await runReadOnly(db, "SELECT COUNT(*) AS n FROM transactions");
    assert.equal(read.columns, ["n"]);
    assert.ok(typeof read.rows[0]![0] === "number", `${where}: the CoffeETL tables stay readable`);
  };
  const local = await openLocalPipeline({ home });
  try {
    await check(local.warehouse, "PGlite");
  } finally {
    await local.close();
  }
  if (SERVER) {
    const server = await PostgresWarehouse.open({ databaseUrl: SERVER });
    try {
      await server.ensureSchema();
      await check(server, "server");
    } finally {
      await server.close();
    }
  } else console.log("  [skip] the reader role on a server: COFFEETL_TEST_DATABASE_URL is not set");
  assert.not.ok(existsSync(marker), "no program ran");
  assert.not.ok(existsSync(join(dir.path, "bypass-file")));
});

test("status --failed exits 1 while there are failures (0 without --failed)", () => {
  const failed = run(["status", "--failed", "--home", home]);
  assert.is(failed.code, 1, failed.stdout + failed.stderr);
  assert.match(failed.stdout, /prose\.csv/);
  assert.is(run(["status", "--failed", "--json", "--home", home]).code, 1);
  assert.is(run(["status", "--home", home]).code, 0);
  const clean = join(dir.path, "clean");
  assert.is(run(["ingest", fixture("canonical.csv"), "--home", clean]).code, 0);
  const none = run(["status", "--failed", "--home", clean]);
  assert.is(none.code, 0);
  assert.match(none.stdout, /No failed files/);
});

test("dashboards: a taken --port is one clear line", async () => {
  const { createServer } = await import("node:net");
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, "127.0.0.1", () => r()));
  const port = (taken.address() as { port: number }).port;
  try {
    const r = await runCoffeetl(["dashboards", "--serve", "--port", String(port), "--home", home]).then(({ status: code, stderr }) => ({ code, stderr }));
    assert.is(r.code, 1);
    assert.is(
      r.stderr,
      `coffeetl: dashboards: port ${port} on 127.0.0.1 is taken by another program; choose another with --port N, or leave --port out for a free one\n`,
    );
  } finally {
    taken.close();
  }
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
    [["ingest", "x.csv", "--json"], /ingest: unknown option --json\n/],
    [["ingest", "x.csv", "--thread", "2"], /ingest: unknown option --thread \(did you mean --threads\?\)/],
    [["ingest", "x.csv", "--threads", "-1"], /^coffeetl: --threads takes a whole number from 0 to 16, got "-1"\n/],
    [["ingest", "x.csv", "--threads"], /^coffeetl: ingest: --threads needs a value \(--threads N\)\n/],
    [["status", "--failed=yes"], /status: --failed takes no value/],
    [["ingset", "x.csv"], /unknown command "ingset" \(did you mean `coffeetl ingest`\?\)/],
    [["dashboards", "--var", "colour=red"], /--var colour: no dashboard has such a variable/],
    [["dashboards", "--var", "branch=Atlantis"], /--var branch: "Atlantis" is not one of its values/],
    [["ingest", "x.csv", "--threads", "many"], /--threads takes a whole number from 0 to 16/],
    [["sql"], /sql needs a query: "QUERY", --file FILE, or -/],
    [["sql", "select 1", "select 2"], /sql takes \["QUERY" \| -\], got/],
    [["sql", "select 1", "--json", "--csv"], /sql: choose --json or --csv/],
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
    // Our own words only, never node:util's ("ambiguous", "To specify an option argument").
    assert.not.match(r.stderr, /ambiguous|To specify|ERR_PARSE_ARGS/);
  }
  const general = run(["--help"]);
  assert.is(general.code, 0);
  for (const c of ["ingest", "sql", "status", "rejects", "reprocess", "upload", "redrive", "verify", "sample", "dashboards", "demo"])
    assert.match(general.stdout, new RegExp(`\\n  ${c} `));
  const ingest = run(["ingest", "--help"]);
  assert.is(ingest.code, 0);
  assert.match(ingest.stdout, /^Usage: coffeetl ingest PATH\.\.\. \[options\]/);
  assert.match(ingest.stdout, /--threads N/);
  assert.not.match(ingest.stdout, /--json/);
  assert.match(run(["help", "sql"]).stdout, /^Usage: coffeetl sql \["QUERY" \| -\][\s\S]*--write/);
  assert.match(run(["status", "-h"]).stdout, /--failed/);
  const version = run(["--version"]);
  assert.is(version.code, 0);
  const pkg = JSON.parse(spawnSync("cat", [join(ROOT, "package.json")], { encoding: "utf8" }).stdout) as { version: string };
  assert.match(version.stdout, new RegExp(`^coffeetl ${pkg.version.replace(/\./g, "\\.")} \\((built|from source)`));
});

/** Runs the CLI with stdout into a pipe whose reader goes away after the first line. */
async function closeAfterFirstLine(args: string[]): Promise<{ code: number | null; stderr: string; first: string }> {
  const { child, done } = startCoffeetl(args);
  let first = "";
  child.stdout.once("data", (d: Buffer) => {
    first = d.toString().split("\n")[0]!;
    child.stdout.destroy();
  });
  const { status: code, stderr } = await done;
  return { code, stderr, first };
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
  const { child, done } = startCoffeetl(["ingest", big, "--threads", "0", "--home", home]);
  let stderr = "";
  const exited = done.then((r) => {
    stderr = r.stderr;
    return r.status;
  });
  let partials: string[] = [];
  for (let i = 0; i < 600 && partials.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 25));
    partials = filesUnder(join(home, "transformed")).filter((f) => f.endsWith(".partial"));
  }
  assert.ok(partials.length > 0, "saw the transform's half-written files");
  child.kill("SIGTERM");
  assert.is(await exited, 143, stderr);
  assert.match(stderr, /stopped by SIGTERM; half-written files removed/);
  assert.equal(
    filesUnder(home).filter((f) => f.endsWith(".partial")),
    [],
  );

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
