// Prettier (.prettierrc.json) has laid out every TypeScript and JavaScript file of the repository.
// A probe checks the check itself: a badly laid out file is reported, so a pattern or an ignore that
// matches nothing fails here too. Fix with: npm run format
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ROOT } from "./helpers.js";

const PRETTIER = join(ROOT, "node_modules/prettier/bin/prettier.cjs");
const SOURCES = "**/*.{ts,js,mjs,cjs}";
const prettier = (...args: string[]) => spawnSync(process.execPath, [PRETTIER, ...args], { cwd: ROOT, encoding: "utf8" });

test("every source file is as prettier lays it out", () => {
  const listed = prettier("--list-different", SOURCES);
  assert.is(listed.status, 0, `not formatted (run npm run format):\n${listed.stdout}${listed.stderr}`);
  // No ignore covers the code: one file of each folder is checked, as TypeScript or JavaScript.
  for (const file of [
    "index.ts",
    "functions/core/rules.ts",
    "functions/warehouse/load/index.ts",
    "infra/stack.ts",
    "cli/main.ts",
    "grafana/lib/run.ts",
    "tests/helpers.ts",
    "scripts/test.js",
    "bench/bench.ts",
  ]) {
    const info = JSON.parse(prettier("--file-info", file).stdout) as { ignored: boolean; inferredParser: string | null };
    assert.equal(info, { ignored: false, inferredParser: file.endsWith(".ts") ? "typescript" : "babel" }, file);
  }
});

test("the check reports a file laid out by hand (a probe)", () => {
  const dir = mkdtempSync(join(tmpdir(), "coffeetl-format-"));
  try {
    writeFileSync(join(dir, "probe.ts"), "export const  probe = ( a:number )=>a+1\n");
    writeFileSync(join(dir, "tidy.ts"), "export const tidy = (a: number) => a + 1;\n");
    const listed = prettier("--config", join(ROOT, ".prettierrc.json"), "--list-different", join(dir, "probe.ts"), join(dir, "tidy.ts"));
    assert.is(listed.status, 1, listed.stderr);
    assert.equal(
      listed.stdout
        .trim()
        .split("\n")
        .map((line) => line.split("/").pop()),
      ["probe.ts"],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
