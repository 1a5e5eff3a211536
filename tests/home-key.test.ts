// A home and its key (issue 19 item 6, issue 24): a home keyed by $COFFEETL_TRANSACTION_KEY or a key
// file is a home for every command; one minimum strength for every way of giving the key; a home
// never changes key silently; raw copies and the key are private (0600 in a 0700 home).
// Through the built CLI (bin/coffeetl.js), as the README runs it.
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createRedshiftLikeDatabase } from "./fixtures/redshift-standin.js";
import { fixture, runCoffeetlSync, tempDir } from "./helpers.js";

const KEY = "home-key-test-0123456789abcdef";
const run = (args: string[], env: Record<string, string | undefined> = {}) => {
  const base = { ...process.env };
  delete base.COFFEETL_TRANSACTION_KEY;
  delete base.COFFEETL_KEY_FILE;
  const r = runCoffeetlSync(args, { env: { ...base, ...env } as NodeJS.ProcessEnv });
  return { status: r.status, out: r.stdout + r.stderr };
};
const dir = await tempDir();
test.after(() => dir.remove());
const mode = (path: string) => statSync(path).mode & 0o777;

test("a home keyed by $COFFEETL_TRANSACTION_KEY is a home: status, rejects and sql work on it without the key", () => {
  const home = join(dir.path, "by-variable");
  const ingest = run(["ingest", fixture("broken_rows.csv"), "--home", home], { COFFEETL_TRANSACTION_KEY: KEY });
  assert.is(ingest.status, 0, ingest.out);
  assert.not.ok(existsSync(join(home, "transaction-id.key")), "the given key is never written into the home");
  for (const args of [["status"], ["rejects", fixture("broken_rows.csv")], ["sql", "SELECT COUNT(*) AS n FROM transactions"]]) {
    const r = run([...args, "--home", home]);
    assert.is(r.status, 0, `${args[0]}: ${r.out}`);
    assert.not.match(r.out, /not a CoffeETL home/);
  }
  // A later ingest without the key is refused, and says how to give it: no second key appears.
  const without = run(["ingest", fixture("canonical.csv"), "--home", home]);
  assert.is(without.status, 1, without.out);
  assert.match(without.out, /keyed with a key given by COFFEETL_TRANSACTION_KEY or a key file .*set COFFEETL_TRANSACTION_KEY or pass --key-file/);
  assert.not.ok(existsSync(join(home, "transaction-id.key")));
  // The same key through a key file is the same key.
  const keyFile = join(dir.path, "same.key");
  writeFileSync(keyFile, KEY + "\n", { mode: 0o600 });
  const viaFile = run(["ingest", fixture("canonical.csv"), "--home", home, "--key-file", keyFile]);
  assert.is(viaFile.status, 0, viaFile.out);
});

test("a home keyed by a key file is a home too: status, rejects and sql work on it", () => {
  const home = join(dir.path, "by-key-file");
  const keyFile = join(dir.path, "home.key");
  writeFileSync(keyFile, KEY + "\n", { mode: 0o600 });
  const ingest = run(["ingest", fixture("broken_rows.csv"), "--home", home, "--key-file", keyFile]);
  assert.is(ingest.status, 0, ingest.out);
  assert.not.ok(existsSync(join(home, "transaction-id.key")), "the given key is never written into the home");
  const checks: Array<[string[], RegExp]> = [
    [["status"], /broken_rows\.csv/],
    [["rejects", "broken_rows.csv"], /8 rows read, 5 rejected, 1 warning/],
    [["sql", "SELECT COUNT(*) AS n FROM transactions", "--json"], /"n":\s*3\b/],
  ];
  for (const [args, answer] of checks) {
    const r = run([...args, "--home", home]);
    assert.is(r.status, 0, `${args[0]}: ${r.out}`);
    assert.match(r.out, answer, args[0]);
  }
});

const SERVER = process.env.COFFEETL_TEST_DATABASE_URL;
test("on a server (--database-url, the set-up the README gives the variable for): ingest with the key from the variable or a key file, then status, rejects and sql on that home", async () => {
  if (!SERVER) {
    console.log("  [skip] a supplied-key home on a server: COFFEETL_TEST_DATABASE_URL is not set (run scripts/start-postgres.sh)");
    return;
  }
  const keyFile = join(dir.path, "server.key");
  writeFileSync(keyFile, KEY + "\n", { mode: 0o600 });
  for (const [way, env, extra] of [
    ["variable", { COFFEETL_TRANSACTION_KEY: KEY }, []],
    ["key file", {}, ["--key-file", keyFile]],
  ] as Array<[string, Record<string, string>, string[]]>) {
    const db = await createRedshiftLikeDatabase(SERVER, "coffeetl_home_key");
    try {
      const home = join(dir.path, `server-${way.replace(" ", "-")}`);
      const on = ["--home", home, "--database-url", db.url];
      const ingest = run(["ingest", fixture("broken_rows.csv"), ...on, ...extra], env);
      assert.is(ingest.status, 0, `${way}: ${ingest.out}`);
      const checks: Array<[string[], RegExp]> = [
        [["status"], /broken_rows\.csv/],
        [["rejects", "broken_rows.csv"], /8 rows read, 5 rejected, 1 warning/],
        [["sql", "SELECT COUNT(*) AS n FROM transactions", "--json"], /"n":\s*3\b/],
      ];
      // Reading commands need no key: run without it.
      for (const [args, answer] of checks) {
        const r = run([...args, ...on]);
        assert.is(r.status, 0, `${way}, ${args[0]}: ${r.out}`);
        assert.not.match(r.out, /not a CoffeETL home/);
        assert.match(r.out, answer, `${way}, ${args[0]}`);
      }
    } finally {
      await db.drop();
    }
  }
});

test("a different key for an existing home is refused with how to fix it; the home is unchanged", () => {
  const home = join(dir.path, "own-key");
  assert.is(run(["ingest", fixture("canonical.csv"), "--home", home]).status, 0);
  const count = () => run(["sql", "SELECT COUNT(*) AS n FROM transactions", "--home", home, "--json"]).out;
  const before = count();
  assert.match(before, /"n"/);
  const other = run(["ingest", fixture("padded.csv"), "--home", home], { COFFEETL_TRANSACTION_KEY: "another-key-0123456789abcdef" });
  assert.is(other.status, 1, other.out);
  assert.match(other.out, /holds another key \(fingerprint [0-9a-f]+\) than the one .* was keyed with .*delete .*key\.fingerprint and .*transaction-id\.key/);
  assert.is(count(), before, "nothing loaded");
});

test("one minimum strength for every way of giving the key", () => {
  const empty = join(dir.path, "empty.key");
  writeFileSync(empty, "\n");
  const short = join(dir.path, "short.key");
  writeFileSync(short, "fifteen-chars!!\n");
  const cases: Array<[string, Record<string, string>, string[], RegExp]> = [
    [
      "variable of one character",
      { COFFEETL_TRANSACTION_KEY: "a" },
      [],
      /\$COFFEETL_TRANSACTION_KEY: holds 1 character; a transaction-id key needs at least 16/,
    ],
    ["empty key file", {}, ["--key-file", empty], /key file .*empty\.key: holds 0 characters; a transaction-id key needs at least 16/],
    ["empty key file by variable", { COFFEETL_KEY_FILE: empty }, [], /holds 0 characters/],
    ["key file of 15 characters", {}, ["--key-file", short], /short\.key: holds 15 characters; a transaction-id key needs at least 16/],
    ["variable of spaces", { COFFEETL_TRANSACTION_KEY: "   " }, [], /\$COFFEETL_TRANSACTION_KEY: holds 0 characters/],
  ];
  for (const [what, env, args, reason] of cases) {
    const home = join(dir.path, `weak-${what.replace(/\W+/g, "-")}`);
    const r = run(["ingest", fixture("canonical.csv"), "--home", home, ...args], env);
    assert.is(r.status, 1, `${what}: ${r.out}`);
    assert.match(r.out, reason, what);
  }
});

test("raw copies and the key are 0600 in a 0700 home, whatever the source file's mode", () => {
  const home = join(dir.path, "private");
  const source = join(dir.path, "readable.csv");
  writeFileSync(source, "01/03/2024 09:00,Leeds,Ada Lovelace,Large Latte - 2.50,2.50,CARD,4111222233334444\n", { mode: 0o644 });
  assert.is(run(["ingest", source, "--home", home]).status, 0);
  assert.is(mode(home), 0o700);
  assert.is(mode(join(home, "transaction-id.key")), 0o600);
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  const raws = walk(join(home, "raw"));
  assert.ok(raws.length > 0);
  for (const f of raws) assert.is(mode(f), 0o600, f);
});

test.run();
