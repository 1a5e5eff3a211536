// The built CLI: scripts/build-cli.js (npm's `prepare`) bundles it into dist/cli, and bin/coffeetl.js
// runs the bundle while it is newer than every source it was built from, the TypeScript otherwise.
// Built in a scratch copy of the project (cli/ copied, the rest linked), never over the real dist/.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, symlinkSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ROOT, tempDir } from "./helpers.js";

const dir = await tempDir();
const copy = join(dir.path, "coffeetl");
mkdirSync(join(copy, "scripts"), { recursive: true });
cpSync(join(ROOT, "cli"), join(copy, "cli"), { recursive: true });
cpSync(join(ROOT, "bin"), join(copy, "bin"), { recursive: true });
cpSync(join(ROOT, "scripts/build-cli.js"), join(copy, "scripts/build-cli.js"));
cpSync(join(ROOT, "package.json"), join(copy, "package.json"));
for (const linked of ["functions", "grafana", "node_modules"]) symlinkSync(join(ROOT, linked), join(copy, linked));
const cli = (...args: string[]) => spawnSync(process.execPath, [join(copy, "bin/coffeetl.js"), ...args], { encoding: "utf8" });

test("the bundle runs while fresh; an edited source runs from source until the next build", () => {
  assert.match(cli("--version").stdout, /\(from source, through tsx/, "not built yet");
  const build = spawnSync(process.execPath, [join(copy, "scripts/build-cli.js")], { encoding: "utf8" });
  assert.is(build.status, 0, build.stderr);
  assert.match(cli("--version").stdout, /^coffeetl \d+\.\d+\.\d+ \(built CLI, dist\/cli/);
  const help = cli("ingest", "--help");
  assert.is(help.status, 0);
  assert.match(help.stdout, /^Usage: coffeetl ingest PATH/);

  const later = new Date(Date.now() + 60_000);
  utimesSync(join(copy, "cli/table.ts"), later, later);
  assert.match(cli("--version").stdout, /\(from source, through tsx/, "a source newer than the bundle");
  assert.is(spawnSync(process.execPath, [join(copy, "scripts/build-cli.js")]).status, 0);
  utimesSync(join(copy, "cli/table.ts"), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  assert.match(cli("--version").stdout, /\(built CLI/);
});

test.after(() => dir.remove());
test.run();
