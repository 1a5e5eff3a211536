// cli/output.ts alone, in a real pipeline: once the reader of standard output has gone (`| head -1`),
// output is dropped and the command finishes its own work and exit status instead of dying on EPIPE.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ROOT, tempDir } from "./helpers.js";

const dir = await tempDir("coffeetl-output-");

/** Runs `script` (cli/output.ts imported as `out`) as `node script | head -1`; the script's own exit status. */
function throughHead(name: string, script: string): { code: number; first: string; stderr: string } {
  const file = join(dir.path, `${name}.mjs`);
  writeFileSync(file, `import * as out from ${JSON.stringify(join(ROOT, "cli/output.ts"))};\n${script}`);
  const run = spawnSync("bash", ["-c", 'node --import tsx "$1" | head -1; exit "${PIPESTATUS[0]}"', "bash", file], { cwd: ROOT, encoding: "utf8" });
  return { code: run.status ?? -1, first: run.stdout, stderr: run.stderr };
}

const WORK = `
out.guardPipes();
out.line("first");
await out.write("second\\n");
await new Promise((r) => setTimeout(r, 300)); // head has read its line and gone
for (let i = 0; i < 20000; i++) out.line("more output than any pipe holds " + i);
await new Promise((r) => setTimeout(r, 100)); // the write errors arrive
out.line("dropped");
out.warn("finished; stdout open: " + out.stdoutOpen());
process.exitCode = 3;
`;

test("after the reader goes, output is dropped, the work finishes and the command's own exit status stands", () => {
  const run = throughHead("guarded", WORK);
  assert.is(run.first, "first\n");
  assert.not.match(run.stderr, /EPIPE|Error/, run.stderr);
  assert.match(run.stderr, "finished; stdout open: false");
  assert.is(run.code, 3);
});

test("without the guard the same command dies on EPIPE (what the guard is for)", () => {
  const run = throughHead("unguarded", WORK.replace("out.guardPipes();", ""));
  assert.match(run.stderr, /EPIPE/);
  assert.not.match(run.stderr, "finished");
  assert.is.not(run.code, 3);
});

test.after(() => dir.remove());
test.run();
