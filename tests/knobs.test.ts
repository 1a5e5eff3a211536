// The table of knobs (docs/design.md §14) names what exists: every constant, variable and file it
// cites is in the code, every config key in it is one the stack reads, and the limits defined in
// functions/core/limits.ts are all in the table. A knob renamed or removed without the table fails here.
// Run alone: node --import tsx tests/knobs.test.ts
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CONFIG_KEYS } from "../infra/config.js";
import * as limits from "../functions/core/limits.js";
import { ROOT } from "./helpers.js";

const design = readFileSync(join(ROOT, "docs/design.md"), "utf8");
const section = /\n## 14\. Knobs\n([\s\S]*?)(\n## |$)/.exec(design)?.[1] ?? "";
const rows = section.split("\n").filter((line) => line.startsWith("| ") && !line.startsWith("| Knob") && !line.startsWith("| ---"));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : name.endsWith(".ts") ? [path] : [];
  });
}
const code = ["functions", "cli", "infra"]
  .flatMap((d) => sources(join(ROOT, d)))
  .map((p) => readFileSync(p, "utf8"))
  .join("\n");

test("the table has its rows", () => {
  assert.ok(rows.length >= 30, `only ${rows.length} rows in docs/design.md §14`);
});

test("every constant and environment variable the table names is in the code", () => {
  const missing: string[] = [];
  for (const row of rows) {
    for (const [, name] of row.matchAll(/`\$?([A-Z][A-Z0-9_]{2,})`/g)) {
      if (!new RegExp(`\\b${name}\\b`).test(code)) missing.push(name!);
    }
  }
  assert.equal(missing, [], `named in docs/design.md §14 but not in functions/, cli/ or infra/: ${missing.join(", ")}`);
});

test("every config key the table names is one the stack reads", () => {
  const keys = new Set<string>(CONFIG_KEYS);
  const unknown: string[] = [];
  for (const row of rows) {
    const knob = row.split("|")[1] ?? "";
    for (const [, name] of knob.matchAll(/`([a-z][A-Za-z0-9]+)`/g)) if (!keys.has(name!)) unknown.push(name!);
  }
  assert.equal(unknown, [], `not a coffeetl: key: ${unknown.join(", ")}`);
});

test("every file the table says reads a knob exists", () => {
  const missing = new Set<string>();
  for (const row of rows) {
    for (const [path] of row.matchAll(/\b(?:functions|cli|infra|grafana|bench)\/[\w/.-]+\.ts\b/g)) if (!existsSync(join(ROOT, path))) missing.add(path);
  }
  assert.equal([...missing], [], `cited in docs/design.md §14 but missing: ${[...missing].join(", ")}`);
});

test("every limit in functions/core/limits.ts is in the table", () => {
  const absent = Object.keys(limits).filter((name) => !rows.some((row) => row.includes(`\`${name}\``)));
  assert.equal(absent, [], `functions/core/limits.ts defines ${absent.join(", ")}, which docs/design.md §14 does not list`);
});

test.run();
