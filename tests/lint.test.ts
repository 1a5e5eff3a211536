// ESLint (eslint.config.js: the JavaScript and typescript-eslint recommended rules) finds nothing in
// the repository. A probe checks the config really applies those rules to product code, so a config
// that lints nothing (a wrong glob, an ignore too wide) fails here too.
// Run alone: node --import tsx tests/lint.test.ts
import { ESLint } from "eslint";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ROOT } from "./helpers.js";

const eslint = new ESLint({ cwd: ROOT });

test("eslint finds no problem in the repository", async () => {
  const results = await eslint.lintFiles(["."]);
  const linted = results.map((r) => r.filePath);
  for (const folder of ["functions/core/", "functions/app/", "infra/", "cli/", "grafana/lib/", "tests/", "scripts/", "bench/"]) {
    assert.ok(
      linted.some((f) => f.startsWith(join(ROOT, folder))),
      `nothing linted under ${folder}`,
    );
  }
  const problems = results.reduce((n, r) => n + r.errorCount + r.warningCount, 0);
  if (problems > 0) {
    const formatter = await eslint.loadFormatter("stylish");
    assert.unreachable(`eslint found ${problems} problem(s):\n${await formatter.format(results)}`);
  }
});

test("the recommended rules apply to product code (a probe with two known mistakes)", async () => {
  const probe = "export function probe(value: any) {\n  value === 1;\n}\n";
  const [result] = await eslint.lintText(probe, { filePath: join(ROOT, "functions/core/lint-probe.ts") });
  const rules = (result?.messages ?? []).map((m) => m.ruleId);
  assert.ok(rules.includes("@typescript-eslint/no-explicit-any"), `no-explicit-any not reported: ${rules.join(", ")}`);
  assert.ok(rules.includes("@typescript-eslint/no-unused-expressions"), `no-unused-expressions not reported: ${rules.join(", ")}`);
});

test.run();
