// Every shell script the project ships passes Debian's shellcheck with no finding at any severity:
// files with a shell shebang or a .sh name (host scripts, .ci/run, scripts/), and the Grafana host's
// user data as renderGrafanaUserData renders it. CI installs shellcheck (.ci/run).
// Run alone: node --import tsx tests/shellcheck.test.ts
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { renderGrafanaUserData } from "../infra/grafana-user-data.js";
import { ROOT } from "./helpers.js";

const SKIP_DIRS = new Set(["node_modules", "dist", ".git"]);
const SHELL = /^#!\s*(\/usr\/bin\/env\s+)?(\/bin\/|\/usr\/bin\/)?(ba|da)?sh\b/;

/** The repository's shell scripts: a shell shebang or a .sh name. */
export function shellScripts(dir = ROOT): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (SKIP_DIRS.has(name)) continue;
    const path = join(dir, name);
    const s = statSync(path);
    if (s.isDirectory()) out.push(...shellScripts(path));
    else if (s.isFile() && s.size < 1_000_000 && (name.endsWith(".sh") || SHELL.test(readFileSync(path, "utf8").slice(0, 80)))) out.push(path);
  }
  return out;
}

if (spawnSync("shellcheck", ["--version"]).status !== 0) {
  console.log("[skip] shellcheck: not installed (apt-get install shellcheck; .ci/run installs it)");
  test.skip("shellcheck over the project's shell scripts", () => {});
} else {
  test("the project's shell scripts include the host sync, CI and scripts/", () => {
    const found = shellScripts().map((p) => relative(ROOT, p));
    for (const expected of ["grafana/host/sync.sh", ".ci/run", "scripts/start-postgres.sh"])
      assert.ok(found.includes(expected), `${expected} in ${found.join(", ")}`);
  });

  test("shellcheck finds nothing in any of them, nor in the rendered user data", () => {
    const work = mkdtempSync(join(tmpdir(), "coffeetl-shellcheck-"));
    try {
      const userData = join(work, "grafana-user-data.sh");
      writeFileSync(
        userData,
        renderGrafanaUserData({ region: "eu-west-2", assetsBucket: "coffeetl-t-grafana-abc", dataVolumeId: "vol-0123456789abcdef0", stack: "t" }),
      );
      const files = [...shellScripts(), userData];
      const r = spawnSync("shellcheck", ["--format=gcc", "--external-sources", ...files], { cwd: ROOT, encoding: "utf8" });
      assert.is(r.stdout.trim(), "", `shellcheck:\n${r.stdout}${r.stderr}`);
      assert.is(r.status, 0, r.stderr);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

test.run();
