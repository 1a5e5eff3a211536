// The load as named steps (functions/warehouse/load/): each step a short function opening with the
// invariant it keeps, no function over 60 lines, and a batch of any size within the statement
// budget. (Behaviour is guarded by the load suites: load-concurrency, pipeline-*, version-order,
// aws-redshift on the Redshift stand-in.)
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LOAD_STATEMENT_BUDGET } from "../functions/aws/redshift-warehouse.js";
import { TABLES } from "../functions/core/schema.js";
import { POSTGRES_DIALECT } from "../functions/warehouse/literals.js";
import { loadStatements } from "../functions/warehouse/load/index.js";
import type { LoadRequest } from "../functions/app/ports.js";

const ROOT = new URL("..", import.meta.url).pathname;
const LOAD = join(ROOT, "functions/warehouse/load");
const files = [...readdirSync(LOAD).map((f) => join(LOAD, f)), join(ROOT, "functions/warehouse/literals.ts"), join(ROOT, "functions/warehouse/sql.ts")];

/** Every function in a file with its line span. */
function functionSpans(path: string): { name: string; lines: number }[] {
  const source = ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.Latest, true);
  const spans: { name: string; lines: number }[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionDeclaration(node) || ts.isArrowFunction(node) || ts.isFunctionExpression(node) || ts.isMethodDeclaration(node)) {
      const line = (pos: number) => source.getLineAndCharacterOfPosition(pos).line;
      const name = (node as ts.FunctionDeclaration).name?.getText(source) ?? `${path.split("/").pop()}:${line(node.getStart(source)) + 1}`;
      spans.push({ name, lines: line(node.getEnd()) - line(node.getStart(source)) + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return spans;
}

test("no function of the load's SQL is over 60 lines", () => {
  const spans = files.flatMap(functionSpans);
  assert.ok(
    spans.some((s) => s.name === "loadStatements"),
    "found the composer",
  );
  const long = spans.filter((s) => s.lines > 60).map((s) => `${s.name}: ${s.lines} lines`);
  assert.equal(long, []);
});

test("each step opens with the invariant it keeps", () => {
  const steps = ["lock-and-stage", "refuse-another-key", "arrival", "supersede", "hold-and-count", "insert-new", "record-outcomes"];
  for (const step of steps) {
    const head = readFileSync(join(LOAD, `${step}.ts`), "utf8")
      .split("\n")
      .slice(0, 8)
      .join("\n");
    assert.match(head, /^\/\/ .*Keeps: /m, `${step}.ts states what it keeps`);
  }
  // The composer lists them in that order.
  const index = readFileSync(join(LOAD, "index.ts"), "utf8");
  const order = ["lockAndStage(", "refuseAnotherKey(", "arrival(", "supersede(", "holdAndCount(", "insertNew(", "recordOutcomes("].map((call) =>
    index.indexOf(`${call}`, index.indexOf("export function loadStatements")),
  );
  assert.ok(
    order.every((at, i) => at > 0 && (i === 0 || at > order[i - 1]!)),
    `steps in order: ${order}`,
  );
});

test(`a batch of 1, 2 or 100 files is at most ${LOAD_STATEMENT_BUDGET} statements with its COPYs, of the Data API's 40`, () => {
  const request = (n: number): LoadRequest =>
    ({
      loadId: n.toString(16).padStart(64, "0"),
      prefix: `p${n}`,
      keyFingerprint: "0123456789abcdef",
      files: [],
      manifest: { source: { key: `uploads/b${n}.csv`, sha256: "b".repeat(64) }, rowsRead: 3, rejected: 0, warnings: 0 },
    }) as unknown as LoadRequest;
  for (const n of [1, 2, 100]) {
    const sql = loadStatements(
      POSTGRES_DIALECT,
      Array.from({ length: n }, (_, i) => request(i + 1)),
      "2024-05-01T10:00:00.000Z",
    );
    const total = sql.prepare.length + TABLES.length + sql.merge.length + 1;
    assert.ok(total <= LOAD_STATEMENT_BUDGET, `${n} files: ${total} statements`);
  }
  assert.ok(LOAD_STATEMENT_BUDGET <= 32, "8 of the 40 kept free");
});

test.run();
