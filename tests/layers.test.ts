// Imports point down and never go round (docs/design.md §1): dependency-cruiser with the
// repository's rules (.dependency-cruiser.cjs) over functions/, infra/, cli/, grafana/lib and index.ts.
// A second test runs the same rules over a small tree that breaks each of them, so a rule that stops
// matching (a renamed folder, a broken pattern) fails here instead of passing silently.
// Run alone: node --import tsx tests/layers.test.ts
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ROOT, tempDir } from "./helpers.js";

const CONFIG = join(ROOT, ".dependency-cruiser.cjs");
const DEPCRUISE = join(ROOT, "node_modules/dependency-cruiser/bin/dependency-cruise.mjs");
const CHECKED = ["functions", "infra", "cli", "grafana/lib", "index.ts"];

function depcruise(cwd: string, paths: string[]): { status: number | null; out: string } {
  const run = spawnSync(process.execPath, [DEPCRUISE, "--config", CONFIG, "--no-progress", ...paths], { cwd, encoding: "utf8" });
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

test("the repository's imports obey the layers and have no cycle", () => {
  const { status, out } = depcruise(ROOT, CHECKED);
  if (status !== 0) assert.unreachable(`dependency-cruiser found violations (exit ${status}):\n${out}`);
  assert.match(out, /no dependency violations found/);
  // The check really walked the tree (a wrong path would cruise nothing and pass).
  const modules = Number(/\((\d+) modules/.exec(out)?.[1] ?? 0);
  assert.ok(modules > 100, `cruised ${modules} modules:\n${out}`);
});

/** Each file of a tree that breaks every rule once, beside imports the rules allow. */
const BROKEN: Record<string, string> = {
  "tsconfig.json": JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", strict: true } }),
  // cycle inside core
  "functions/core/first.ts": 'import { second } from "./second.js";\nexport const first = () => second;\n',
  "functions/core/second.ts": 'import { first } from "./first.js";\nexport const second = () => first;\n',
  // core reaching up into app
  "functions/core/rules.ts": 'import { service } from "../app/service.js";\nexport const rules = service;\n',
  // app reaching into an adapter
  "functions/app/service.ts": 'import { statements } from "../warehouse/steps.js";\nexport const service = statements;\n',
  "functions/warehouse/steps.ts": 'import type { Port } from "../app/port.js";\nexport const statements: Port[] = [];\n',
  "functions/app/port.ts": "export interface Port { name: string }\n",
  // adapters: aws may use the shared warehouse SQL (allowed) but not local (forbidden)
  "functions/aws/redshift.ts":
    'import { statements } from "../warehouse/steps.js";\nimport { folder } from "../local/folder.js";\nexport const redshift = [statements, folder];\n',
  "functions/local/folder.ts": "export const folder = 1;\n",
  // one handler importing another
  "functions/load/handler.ts": 'import { handler as other } from "../extract-transform/handler.js";\nexport const handler = other;\n',
  "functions/extract-transform/handler.ts": "export const handler = 1;\n",
  // infra: a shared name (allowed) and a handler (forbidden)
  "infra/layout.ts": 'import { MANIFEST } from "../functions/core/manifest.js";\nexport const layout = MANIFEST;\n',
  "functions/core/manifest.ts": 'export const MANIFEST = "manifest.json";\n',
  "infra/stack.ts": 'import { handler } from "../functions/load/handler.js";\nexport const stack = handler;\n',
  // infra cycle through a type-only import (the kind infra/config.ts <-> infra/grafana.ts had)
  "infra/config.ts": 'import type { Host } from "./host.js";\nexport const slug = (h: Host) => h.name;\n',
  "infra/host.ts": 'import { slug } from "./config.js";\nexport interface Host { name: string }\nexport const hostSlug = slug;\n',
};

test("the rules catch a cycle, an upward import, adapters importing each other, a handler importing a handler, infra importing runtime code", async () => {
  const dir = await tempDir("coffeetl-layers-");
  try {
    for (const [path, text] of Object.entries(BROKEN)) {
      mkdirSync(dirname(join(dir.path, path)), { recursive: true });
      writeFileSync(join(dir.path, path), text);
    }
    const { status, out } = depcruise(dir.path, ["functions", "infra"]);
    assert.ok(status !== 0, `dependency-cruiser passed a broken tree:\n${out}`);
    const expected: [string, RegExp][] = [
      ["no-circular", /no-circular: functions\/core\/(first|second)\.ts/],
      ["no-circular (type-only)", /no-circular: infra\/(config|host)\.ts/],
      ["core-is-pure", /core-is-pure: functions\/core\/rules\.ts → functions\/app\/service\.ts/],
      ["app-imports-core-only", /app-imports-core-only: functions\/app\/service\.ts → functions\/warehouse\/steps\.ts/],
      ["adapters-stay-apart", /adapters-stay-apart: functions\/aws\/redshift\.ts → functions\/local\/folder\.ts/],
      ["handlers-are-leaves", /handlers-are-leaves: functions\/load\/handler\.ts → functions\/extract-transform\/handler\.ts/],
      ["infra-imports-shared-names-only", /infra-imports-shared-names-only: infra\/stack\.ts → functions\/load\/handler\.ts/],
    ];
    for (const [rule, pattern] of expected) assert.match(out, pattern, `${rule} not reported:\n${out}`);
    // The imports the layers allow are not reported.
    assert.not.match(out, /functions\/aws\/redshift\.ts → functions\/warehouse\/steps\.ts/, out);
    assert.not.match(out, /functions\/warehouse\/steps\.ts → functions\/app\/port\.ts/, out);
    assert.not.match(out, /infra\/layout\.ts → functions\/core\/manifest\.ts/, out);
  } finally {
    await dir.remove();
  }
});

test.run();
