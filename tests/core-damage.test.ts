// Damaged input never takes good lines with it (issue 11). Each fixture in tests/fixtures/damaged
// is base.csv (30 sales, two of them identical) with one kind of damage a till or a spreadsheet
// does; each must load every other line, and reject (or load) the damaged one with its line number.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { UnreadableFileError } from "../functions/core/errors.js";
import { MAX_LINE_BYTES } from "../functions/core/rules.js";
import { sampleChunks } from "../functions/core/sample.js";
import { COLUMN_LIMITS, CREATE_TABLES } from "../functions/core/schema.js";
import { transform } from "../functions/core/transform.js";
import { openLocalPipeline } from "../functions/local/pipeline.js";
import { ROOT, assertNoPii, csvRows, tempDir, transformText } from "./helpers.js";

const DAMAGED = join(ROOT, "tests/fixtures/damaged");
const read = (name: string) => readFileSync(join(DAMAGED, name));
const SECRET = "damage-secret";

/** Each fixture: its damaged lines (line, reason) that must be rejected; every other line loads. */
const CASES: Record<string, { what: string; rejected: Array<[number, RegExp]> }> = {
  "quote_opens_name.csv": { what: 'a " opening the customer-name field', rejected: [[10, /^malformed CSV: a quote opens a field and is never closed$/]] },
  "stray_quote_basket.csv": { what: 'a stray " inside the basket', rejected: [[20, /^malformed CSV: text after a closing quote$/]] },
  "first_line_crlf.csv": { what: "line 1 ends CRLF, the rest LF", rejected: [] },
  "crlf_one_lf.csv": { what: "a CRLF file with one LF-only line", rejected: [] },
  "lone_cr.csv": { what: "lines ended by a lone CR", rejected: [] },
  "nul_last_line.csv": { what: "a NUL byte in the last line", rejected: [[30, /NUL byte/]] },
  "long_product.csv": { what: "a 132-character product name", rejected: [[12, /basket item 1 has a product name longer than 100 bytes/]] },
  "long_branch_bytes.csv": { what: "a branch of 51 characters, 102 bytes", rejected: [[3, /^branch name longer than 100 bytes$/]] },
  "unshowable_branch.csv": {
    what: "a right-to-left override and a tab in branch names",
    rejected: [
      [4, /^branch name has a control or invisible character \(U\+202E\) that dashboards cannot show$/],
      [9, /\(U\+0009\)/],
    ],
  },
  "invalid_utf8.csv": { what: "invalid UTF-8 in a branch name", rejected: [[7, /^not valid UTF-8 text \(save the file as UTF-8\)$/]] },
  "mixed_layouts.csv": {
    what: "legacy lines 5-9 in a canonical file, line 12 in neither layout",
    rejected: [[12, /expected CASH or CARD in column 6 \(canonical layout\) or column 5 \(legacy layout\)/]],
  },
  "canonical_iso.csv": { what: "canonical layout, ISO dates", rejected: [] },
  "legacy_day_first.csv": { what: "legacy layout, day-first dates", rejected: [] },
};

const idsOf = (csv: string) => csvRows(csv).map((s) => s.transaction_id!);

test("base.csv: 30 lines, 30 sales (two identical lines are two sales)", async () => {
  const { summary, files } = await transformText(read("base.csv"), SECRET);
  assert.equal([summary.rowsRead, summary.rows.transactions, summary.rejected, summary.warnings], [30, 30, 0, 0]);
  const ids = idsOf(files.transactions);
  assert.is(new Set(ids).size, 30);
  const lines = read("base.csv").toString().split("\n");
  assert.is(lines[21], lines[22], "lines 22 and 23 are the same sale twice");
});

for (const [name, { what, rejected }] of Object.entries(CASES)) {
  test(`${name} (${what}): every other line's sale, the same as in base.csv; the damaged line ${rejected.length ? "rejected" : "loaded"} with its line number`, async () => {
    const base = idsOf((await transformText(read("base.csv"), SECRET)).files.transactions);
    const { summary, files } = await transformText(read(name), SECRET);
    assert.is(summary.rowsRead, 30);
    assert.is(summary.rejected, rejected.length);
    const rejects = csvRows(files.rejects);
    assert.equal(
      rejects.map((r) => Number(r.line_number)),
      rejected.map(([line]) => line),
    );
    rejected.forEach(([, reason], i) => assert.match(rejects[i]!.reason!, reason));
    assert.equal(
      summary.firstRejects,
      rejects.map((r) => ({ line: Number(r.line_number), reason: r.reason })),
    );
    // Line for line the sales of base.csv, less the rejected lines: same content, same ids.
    const damagedLines = new Set(rejected.map(([line]) => line));
    assert.equal(
      idsOf(files.transactions),
      base.filter((_, i) => !damagedLines.has(i + 1)),
    );
    assertNoPii(Object.values(files).join("\n"), `${name} outputs`);
  });
}

test("every fixture gives the same files whatever the chunk size (CR and LF never split apart) and with worker threads", async () => {
  const runWith = async (input: Buffer, chunkBytes: number, workers: number) => {
    const run = transform(Readable.from([input]), { transactionIdKey: SECRET, sourceKey: "k.csv", chunkBytes, workers });
    const names = Object.keys(run.outputs) as Array<keyof typeof run.outputs>;
    const [summary, ...texts] = await Promise.all([run.done, ...names.map((n) => text(run.outputs[n]))]);
    return { summary, texts };
  };
  for (const name of Object.keys(CASES)) {
    const input = read(name);
    const whole = await runWith(input, 1 << 20, 0);
    for (const chunkBytes of [61, 200, 1001]) assert.equal(await runWith(input, chunkBytes, 0), whole, `${name}, chunks of ${chunkBytes} bytes`);
  }
  const mixed = read("mixed_layouts.csv");
  assert.equal(await runWith(mixed, 500, 2), await runWith(mixed, 1 << 20, 0), "two workers");
});

test("a NUL byte far into a large file rejects its line alone", async () => {
  const day = Buffer.from([...sampleChunks({ rows: 3000, seed: 3, branch: "Leeds", date: "2024-05-01" })].join(""));
  assert.ok(day.length > 300 * 1024, "past the first chunk");
  const lines = day.toString().split("\n");
  lines[2499] = lines[2499]!.replace("Leeds", "Le\u0000eds");
  const { summary, files } = await transformText(lines.join("\n"));
  assert.equal([summary.rowsRead, summary.rows.transactions, summary.rejected], [3000, 2999, 1]);
  assert.match(files.rejects, /^line_number,reason\n2500,"NUL byte/);
});

test("an over-long line is rejected alone, also one longer than a chunk, and later line numbers stay right", async () => {
  const base = read("base.csv").toString().split("\n");
  for (const [length, chunkBytes] of [
    [MAX_LINE_BYTES + 10, 1 << 20],
    [3 * 1024 * 1024, 64 * 1024],
    [200_000, 1000],
  ] as const) {
    const lines = [...base];
    lines.splice(5, 0, `01/03/2024 09:40,Kendal,${"x".repeat(length)},Regular Latte - 2.15,2.15,CASH,`);
    const run = transform(Readable.from([Buffer.from(lines.join("\n"))]), { transactionIdKey: SECRET, sourceKey: "k.csv", chunkBytes });
    const [summary, , , , , rejects] = await Promise.all([run.done, ...Object.values(run.outputs).map((o) => text(o))]);
    assert.equal([summary.rowsRead, summary.rows.transactions, summary.rejected], [31, 30, 1], `${length} bytes`);
    assert.is(rejects, `line_number,reason\n6,line longer than ${MAX_LINE_BYTES} bytes\n`);
  }
});

test("a file that is not text as a whole fails as binary; one readable line is enough to load", async () => {
  // Seeded noise with line breaks in it, like a zip or an image.
  let seed = 7;
  const noise = Buffer.from(Array.from({ length: 50_000 }, () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed >> 16) & 255));
  await transformText(noise).then(
    () => assert.unreachable("noise should fail"),
    (error: Error) => {
      assert.instance(error, UnreadableFileError);
      assert.match(
        error.message,
        /^binary content, not a text file: \d+ of \d+ lines hold NUL bytes or invalid UTF-8 \(a spreadsheet\? save the sheet as "CSV UTF-8/,
      );
    },
  );
  const good = read("base.csv").toString().split("\n")[0]!;
  const { summary } = await transformText(Buffer.concat([noise, Buffer.from("\n" + good + "\n")]));
  assert.is(summary.rows.transactions, 1);
});

test("COLUMN_LIMITS match the warehouse's CREATE TABLE statements", () => {
  const sql = CREATE_TABLES.join("\n");
  for (const column of ["branch_name", "product_name", "flavour", "source_key"] as const) {
    const declared = Number(new RegExp(`\\b${column} VARCHAR\\((\\d+)\\)`).exec(sql)?.[1]);
    assert.is(declared, COLUMN_LIMITS[column], column);
  }
  const [, precision, scale] = /total_amount DECIMAL\((\d+),(\d+)\)/.exec(sql)!;
  assert.is(COLUMN_LIMITS.maxAmountPence, 10 ** Number(precision) - 1);
  assert.is(Number(scale), 2);
});

test("a source key longer than its column fails the file with the reason", async () => {
  await transformText(read("base.csv"), SECRET, `raw/${"é".repeat(COLUMN_LIMITS.source_key / 2)}.csv`).then(
    () => assert.unreachable("too long"),
    (error: Error) => assert.match(error.message, /source key longer than 1024 bytes/),
  );
});

test("ingest loads every damaged fixture: other lines in the warehouse, the damaged line in rejects.csv and the report", async () => {
  const home = await tempDir();
  const local = await openLocalPipeline({ home: home.path });
  try {
    const [base] = await local.ingest([join(DAMAGED, "base.csv")]);
    assert.equal([base!.ok, base!.rowsRead, base!.transactionsNew, base!.rejected], [true, 30, 30, 0]);
    for (const [name, { rejected }] of Object.entries(CASES)) {
      const [report] = await local.ingest([join(DAMAGED, name)]);
      // Every readable line's sale is one base.csv already loaded: same sale, same id.
      const pick = (r: typeof report) => [r!.ok, r!.rowsRead, r!.transactionsNew, r!.duplicates, r!.rejected];
      assert.equal(pick(report), [true, 30, 0, 30 - rejected.length, rejected.length], name);
      assert.equal(
        report!.firstRejects!.map((r) => r.line),
        rejected.map(([line]) => line),
        name,
      );
      if (rejected.length) assert.match(readFileSync(report!.rejectsPath!, "utf8"), new RegExp(`\n${rejected[0]![0]},`));
    }
    const [row] = await local.warehouse.query<{ n: number }>("SELECT COUNT(*) AS n FROM transactions");
    assert.is(Number(row!.n), 30);
  } finally {
    await local.close();
    await home.remove();
  }
});

test.run();
