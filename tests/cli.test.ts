// The `coffeetl` command line, run as a user runs it (bin/coffeetl.js in a child process).
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FIXTURES, ROOT, assertNoPii, fixture, tempDir } from "./helpers.js";

const BIN = join(ROOT, "bin/coffeetl.js");
const run = (args: string[], env: Record<string, string> = {}) => {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
};

test("sample writes the same canonical file for the same arguments", () => {
  const args = ["sample", "--rows", "20", "--seed", "3", "--branch", "Southend-on-Sea", "--date", "2024-06-01"];
  const one = run(args);
  const two = run(args);
  assert.is(one.code, 0, one.stderr);
  assert.is(one.stdout, two.stdout);
  const lines = one.stdout.trimEnd().split("\n");
  assert.is(lines.length, 20);
  assert.match(lines[0]!, /^01\/06\/2024 08:00,Southend-on-Sea,[A-Za-z]+ [A-Za-z]+,/);
  assert.is(run(["sample", "--date", "2024-13-01"]).code, 1);
});

test("ingest prints per-file figures, fails only for unreadable files, and never prints personal data", async () => {
  const home = await tempDir();
  try {
    const all = run(["ingest", FIXTURES, "--home", home.path]);
    assert.is(all.code, 1, "two files are unreadable");
    assert.match(all.stdout, /✔ .*canonical\.csv: 5 rows read, 5 sales new, 0 duplicates, 0 rejected, 0 warnings, \d+\.\d+s/);
    assert.match(all.stdout, /✔ .*broken_rows\.csv: 8 rows read, 3 sales new, 0 duplicates, 5 rejected, 1 warnings/);
    assert.match(all.stdout, /✘ .*not_csv\.csv: failed: binary content/);
    assert.match(all.stdout, /8 files: 6 processed, 2 failed; 14 new sales/);
    assertNoPii(all.stdout + all.stderr, "ingest output");

    const good = run(["ingest", fixture("canonical.csv"), fixture("legacy_crlf.csv")], { COFFEETL_HOME: home.path });
    assert.is(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /2 files: 2 processed, 0 failed; 0 new sales, 8 duplicates/);

    const sql = run(["sql", "SELECT COUNT(*) AS n, SUM(total_amount) AS revenue FROM transactions", "--json", "--home", home.path]);
    assert.is(sql.code, 0, sql.stderr);
    assert.equal(JSON.parse(sql.stdout), [{ n: 14, revenue: "60.89" }]);
    const table = run(["sql", "SELECT branch_name FROM branches ORDER BY 1", "--home", home.path]);
    assert.match(table.stdout, /branch_name\n-+\nIsle of Wight\nKendal\n\(2 rows\)/);
    const rows = run(["sql", "SELECT * FROM transactions", "--home", home.path]);
    assertNoPii(rows.stdout, "sql output");
  } finally {
    await home.remove();
  }
});

test("ingest --threads: worker threads on request, the same warehouse as one thread", async () => {
  const dir = await tempDir();
  try {
    const file = join(dir.path, "busy-day.csv");
    const sample = run(["sample", "--rows", "3000", "--seed", "threads"]);
    writeFileSync(file, sample.stdout);
    const threaded = run(["ingest", file, "--threads", "2", "--home", join(dir.path, "a")]);
    // The same transaction-id secret, so that both warehouses can be compared row for row.
    mkdirSync(join(dir.path, "b"));
    copyFileSync(join(dir.path, "a", "transaction-id.key"), join(dir.path, "b", "transaction-id.key"));
    const single = run(["ingest", file, "--threads", "0", "--home", join(dir.path, "b")]);
    assert.is(threaded.code, 0, threaded.stderr);
    assert.is(single.code, 0, single.stderr);
    assert.match(threaded.stdout, /3000 rows read, \d+ sales new, .* on 2 threads/);
    assert.not.match(single.stdout, /threads/);
    // Every fact row, fingerprinted (the rows themselves would overflow a pipe's buffer here).
    const query =
      "SELECT COUNT(*) AS n, md5(string_agg(t.transaction_id || t.total_amount || i.product_id || i.quantity, ',' ORDER BY t.transaction_id, i.product_id)) AS rows " +
      "FROM transactions t JOIN transaction_items i USING (transaction_id)";
    const a = run(["sql", query, "--json", "--home", join(dir.path, "a")]);
    const b = run(["sql", query, "--json", "--home", join(dir.path, "b")]);
    assert.ok(JSON.parse(a.stdout)[0].n > 3000, a.stdout + a.stderr);
    assert.is(a.stdout, b.stdout);
    const bad = run(["ingest", file, "--threads", "many", "--home", join(dir.path, "c")]);
    assert.is(bad.code, 2);
    assert.match(bad.stderr, /--threads takes a whole number/);
  } finally {
    await dir.remove();
  }
});

test("usage errors are reported with exit status 2, SQL errors with 1", async () => {
  const home = await tempDir();
  try {
    const unknown = run(["frobnicate", "--home", home.path]);
    assert.is(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    assert.is(run(["ingest", "--home", home.path]).code, 2);
    const missing = run(["ingest", join(home.path, "nope.csv"), "--home", home.path]);
    assert.is(missing.code, 1);
    assert.match(missing.stderr, /nope\.csv: no such file or folder/);
    const bad = run(["sql", "SELECT nope FROM transactions", "--home", home.path]);
    assert.is(bad.code, 1);
    assert.match(bad.stderr, /coffeetl: .*nope/);
  } finally {
    await home.remove();
  }
});

test.run();
