// cli/table.ts alone: psql-style aligned tables for status, rejects, sql and demo.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { formatColumns, formatTable } from "../cli/table.js";

test("columns padded to the widest cell, a rule line, the row count", () => {
  assert.is(
    formatColumns(
      ["branch", "sales"],
      [
        ["leeds", 12],
        ["chesterfield", 3],
      ],
    ),
    "branch       | sales\n-------------+------\nleeds        | 12\nchesterfield | 3\n(2 rows)\n",
  );
});

test("cells: null and undefined empty, dates in ISO, objects as JSON; trailing blanks trimmed", () => {
  const out = formatColumns(
    ["a", "b", "c"],
    [
      [null, new Date("2024-03-01T09:00:00Z"), { n: 1 }],
      [undefined, "x", [1, 2]],
    ],
  );
  assert.equal(out.split("\n"), [
    "a | b                        | c",
    "--+--------------------------+--------",
    '  | 2024-03-01T09:00:00.000Z | {"n":1}',
    "  | x                        | [1,2]",
    "(2 rows)",
    "",
  ]);
});

test("columns sharing a name are all shown (a join's two ids)", () => {
  assert.match(formatColumns(["id", "id"], [[1, 2]]), /^id \| id\n/);
  assert.match(formatColumns(["id", "id"], [[1, 2]]), /\n1  \| 2\n/);
});

test("counts: one row, no rows, no columns", () => {
  assert.match(formatColumns(["n"], [[1]]), /\(1 row\)\n$/);
  assert.is(formatColumns([], [[], []]), "(2 rows)\n");
  assert.is(formatTable([]), "(0 rows)\n");
});

test("formatTable takes the columns from the first row object", () => {
  assert.is(
    formatTable([
      { file: "a.csv", rejected: 2 },
      { file: "bb.csv", rejected: 10 },
    ]),
    "file   | rejected\n-------+---------\na.csv  | 2\nbb.csv | 10\n(2 rows)\n",
  );
});

test.run();
