// A baseline commit's tree for the benches' A/B runs (COFFEETL_BENCH_BASELINE=<git ref>): a `git
// archive` copy (no worktree) sharing this tree's node_modules; each bench builds in it what it runs.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function baselineTree(root: string, ref: string): { tree: string; commit: string } {
  const commit = execFileSync("git", ["rev-parse", "--short", ref], { cwd: root, encoding: "utf8" }).trim();
  // Outside the project, so that the type check never sees a second copy of it.
  const tree = join(tmpdir(), `coffeetl-bench-baseline-${commit}`);
  if (!existsSync(join(tree, "package.json"))) {
    mkdirSync(tree, { recursive: true });
    execFileSync("sh", ["-c", `git archive ${commit} | tar -x -C ${JSON.stringify(tree)}`], { cwd: root });
  }
  if (!existsSync(join(tree, "node_modules"))) {
    rmSync(join(tree, "node_modules"), { force: true }); // a link left dangling by an earlier checkout
    symlinkSync(join(root, "node_modules"), join(tree, "node_modules"));
  }
  return { tree, commit };
}
