// tests/README.md's map "source file → tests" is what scripts/test-map.ts derives from the suites'
// imports: a suite added, moved or changed without regenerating the map fails here.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BEGIN, END, README, REGENERATE, deriveMap, renderMap, withMap } from "../scripts/test-map.js";

test("tests/README.md's map is the one derived from the imports of tests/**", () => {
  const readme = readFileSync(README, "utf8");
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  assert.ok(start >= 0 && end > start, `tests/README.md lost its test-map markers; restore them and run: ${REGENERATE}`);
  const current = readme.slice(start, end + END.length);
  const derived = renderMap(deriveMap());
  if (current !== derived) {
    const a = current.split("\n");
    const b = derived.split("\n");
    const at = a.findIndex((line, i) => line !== b[i]);
    const line = readme.slice(0, start).split("\n").length + at;
    assert.unreachable(
      `tests/README.md's map is out of date (first difference at README line ${line}: README ${JSON.stringify(a[at])}, derived ${JSON.stringify(b[at])}). Regenerate it: ${REGENERATE}`,
    );
  }
});

test("the derivation: direct imports, support files with their suites, importers, and files nothing reaches", () => {
  const root = mkdtempSync(join(tmpdir(), "coffeetl-test-map-"));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  try {
    write("functions/app/a.ts", 'import { b } from "./b.js";\nexport const a = b;\n');
    write("functions/app/b.ts", "export const b = 1;\n");
    write("functions/app/lonely.ts", "export const c = 1;\n");
    write("infra/thing.ts", "export const t = 1;\n");
    write("tests/helpers.ts", 'export { b } from "../functions/app/b.js";\n');
    write("tests/one.test.ts", 'import "../functions/app/a.js";\nimport "./helpers.js";\n');
    write("tests/two.test.ts", 'const m = await import("../infra/thing.js");\nimport "./helpers.js";\n');
    const map = deriveMap(root);
    assert.equal(map.direct.get("functions/app/a.ts"), ["tests/one.test.ts"]);
    assert.equal(map.direct.get("infra/thing.ts"), ["tests/two.test.ts"], "dynamic imports count");
    assert.equal(map.support.get("functions/app/b.ts"), [{ file: "tests/helpers.ts", suites: ["tests/one.test.ts", "tests/two.test.ts"] }]);
    assert.equal(map.importers.get("functions/app/b.ts"), ["functions/app/a.ts"]);
    const text = renderMap(map);
    assert.match(text, "| `functions/app/a.ts` | `one.test.ts` |  |");
    assert.match(text, "| `functions/app/b.ts` | — | helpers.ts (one.test.ts, two.test.ts) |");
    assert.match(text, "- `functions/app/b.ts`: through `functions/app/a.ts`; through the support files `helpers.ts`");
    assert.match(text, "- `functions/app/lonely.ts`: **no test reaches it by import**");
    assert.equal(withMap(`intro\n${BEGIN}\nold\n${END}\noutro\n`, text), `intro\n${text}\noutro\n`);
    assert.throws(() => withMap("no markers", text), /no test-map markers/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
