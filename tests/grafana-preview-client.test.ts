// grafana/lib/preview-client.js is served to the browser as it is (render.ts inlines its text), so it
// stays JavaScript, checked by tsc through its JSDoc types against render.ts's PreviewData, as browser
// code: in a program of its own (grafana/lib/tsconfig.preview-client.json), since DOM types in the root
// program would type Node code as browser code. Its drawing is tested in Chromium by dashboards*.test.ts.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ROOT } from "./helpers.js";

const PROJECT = "grafana/lib/tsconfig.preview-client.json";

test("the preview's browser script type-checks as browser code", () => {
  // --listFiles: the check, then the files it covered.
  const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", PROJECT, "--listFiles"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  assert.is(tsc.status, 0, `tsc -p ${PROJECT}:\n${tsc.stdout}${tsc.stderr}`);
  const files = tsc.stdout.split("\n");
  assert.ok(
    files.some((f) => f.endsWith("grafana/lib/preview-client.js")),
    "the script is in the program",
  );
  assert.ok(
    files.some((f) => f.endsWith("grafana/lib/render.ts")),
    "with the data type render.ts writes",
  );
  assert.ok(
    files.some((f) => /lib\.dom\.d\.ts$/.test(f)),
    "and the DOM",
  );
});

test("it is checked whatever its first lines say (checkJs), and it is plain JavaScript a browser runs", () => {
  const config = JSON.parse(readFileSync(join(ROOT, PROJECT), "utf8")) as { compilerOptions: Record<string, unknown> };
  assert.is(config.compilerOptions.checkJs, true);
  const text = readFileSync(join(ROOT, "grafana/lib/preview-client.js"), "utf8");
  // No TypeScript syntax and no module syntax: the page runs it as a classic inline script.
  assert.not.match(text, /^\s*(import|export)\s/m);
  assert.not.throws(() => new Function(text));
});

test.run();
