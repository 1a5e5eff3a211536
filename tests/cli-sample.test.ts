// cli/sample.ts: `coffeetl sample` writes a canonical raw file on standard output and stops quietly
// when its reader goes (`| head -1`: exit 0, nothing on stderr); a bad option is a usage error of
// `sample`. (The file's content is tested in cli.test.ts and the generator in core.test.ts.)
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ROOT } from "./helpers.js";

const pipeline = (command: string) => spawnSync("bash", ["-c", `${command}; exit "\${PIPESTATUS[0]}"`], { cwd: ROOT, encoding: "utf8" });
const COFFEETL = `node ${JSON.stringify(join(ROOT, "bin/coffeetl.js"))}`;

test("a reader that goes after one line: that line, exit 0, nothing on stderr", () => {
  const run = pipeline(`${COFFEETL} sample --rows 2000000 --seed 1 | head -1`);
  assert.match(run.stdout, /^\d\d\/\d\d\/\d{4} \d\d:\d\d,Chesterfield,[^\n]*\n$/);
  assert.is(run.stderr, "");
  assert.is(run.status, 0);
});

test("a bad option: exit 2, the reason, the pointer to `sample --help`", () => {
  const run = pipeline(`${COFFEETL} sample --branch Leeds --date 2024-13-01 | head -1`);
  assert.is(run.status, 2, run.stderr);
  assert.match(run.stderr, '--date must be YYYY-MM-DD, got "2024-13-01"');
  assert.match(run.stderr, "Run `coffeetl sample --help` for usage.");
});

test.run();
