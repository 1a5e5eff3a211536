// cli/errors.ts: a UsageError is a mistake in how a command was called. It carries the command, and
// the CLI answers it with exit status 2 and a pointer to that command's help.
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { UsageError } from "../cli/errors.js";
import { runCoffeetlSync, tempDir } from "./helpers.js";

const dir = await tempDir("coffeetl-errors-");
const coffeetl = (...args: string[]) => runCoffeetlSync(args, { cwd: dir.path, env: { ...process.env, COFFEETL_HOME: join(dir.path, "home") } });

test("a UsageError is an Error with its message and, when known, its command", () => {
  const e = new UsageError("--rows takes a whole number", "sample");
  assert.ok(e instanceof Error);
  assert.equal([e.message, e.command], ["--rows takes a whole number", "sample"]);
  assert.is(new UsageError("no such command").command, undefined);
});

test("the CLI: a usage mistake exits 2 and points to the command's help; without a command, to the general help", () => {
  const bad = coffeetl("sample", "--rows", "many");
  assert.is(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, '--rows takes a whole number from 1 to 100000000, got "many"');
  assert.match(bad.stderr, "Run `coffeetl sample --help` for usage.");
  const unknown = coffeetl("brew");
  assert.is(unknown.status, 2, unknown.stderr);
  assert.match(unknown.stderr, /Run `coffeetl --help` for usage\./);
});

test.after(() => dir.remove());
test.run();
