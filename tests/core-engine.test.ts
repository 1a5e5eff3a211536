// The transform engine's parts one by one (functions/core/engine/): cutting bytes into chunks of
// whole lines, reading a chunk's records, transforming a chunk, merging chunks transformed apart
// (numbering identical sales across them), and the worker pool.
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createChunkTransformer, type ChunkOptions, type ChunkResult } from "../functions/core/engine/chunk-transform.js";
import { chunksOf, countLineEnds, type Chunk } from "../functions/core/engine/chunks.js";
import { csvField, TableFiles } from "../functions/core/engine/csv-writer.js";
import { ChunkMerger } from "../functions/core/engine/merge.js";
import { readRecords } from "../functions/core/engine/read-lines.js";
import { runChunks } from "../functions/core/engine/run-chunks.js";
import { MAX_LINE_BYTES, TOTAL_DIFFERS } from "../functions/core/rules.js";
import { sampleChunks } from "../functions/core/sample.js";

const OPTIONS: ChunkOptions = { transactionIdKey: "engine-test-secret-0123", sourceKey: "day.csv" };
const collect = async (input: Array<string | Buffer>, chunkBytes: number) => {
  const chunks: Chunk[] = [];
  for await (const chunk of chunksOf(Readable.from(input.map((p) => Buffer.from(p))), chunkBytes)) chunks.push(chunk);
  return chunks;
};

test("countLineEnds counts LF, CRLF and a lone CR once each", () => {
  assert.is(countLineEnds(Buffer.from("a\nb\r\nc\rd")), 3);
  assert.is(countLineEnds(Buffer.from("no end")), 0);
});

test("chunksOf cuts whole lines, numbers each chunk's first line, and never splits a CRLF", async () => {
  const chunks = await collect(["l1\r\nl2\r", "\nl3\nl4\rl5"], 4);
  assert.equal(Buffer.concat(chunks.map((c) => c.bytes)).toString(), "l1\r\nl2\r\nl3\nl4\rl5");
  for (const c of chunks) assert.not.ok(c.bytes.toString().startsWith("\n"), `chunk ${c.index} starts inside a CRLF`);
  assert.equal(
    chunks.map((c) => c.index),
    chunks.map((_, i) => i),
  );
  let line = 1;
  for (const c of chunks) {
    assert.is(c.firstLine, line);
    line += countLineEnds(c.bytes);
  }
});

test("chunksOf keeps only the start of an over-long line, enough to reject it", async () => {
  const long = "x".repeat(MAX_LINE_BYTES * 3);
  const chunks = await collect(["a\n", long, "\nb\n"], 1024);
  const all = Buffer.concat(chunks.map((c) => c.bytes)).toString();
  assert.is(all, `a\n${"x".repeat(MAX_LINE_BYTES + 1)}\nb\n`);
});

test("readRecords rejects a bad line alone, with its number and reason, and reads its neighbours", () => {
  const bytes = Buffer.from(["a,b", "c,\0d", "e,f", '"g,h', "i,j", ",,,", "k,l"].join("\n"));
  const records = readRecords({ index: 1, bytes, firstLine: 10 });
  assert.equal(records.fields, [
    ["a", "b"],
    ["e", "f"],
    ["i", "j"],
    ["k", "l"],
  ]);
  assert.equal(Array.from(records.line), [10, 12, 14, 16]);
  assert.equal(records.rejects, [
    { line: 11, reason: "NUL byte in the line (binary data, not text)" },
    { line: 13, reason: "malformed CSV: a quote opens a field and is never closed" },
  ]);
  assert.is(records.notText, 1);
});

const DAY = [...sampleChunks({ rows: 300, seed: 5, branch: "Leeds", date: "2024-05-01" })].join("");
const dayLines = DAY.split("\n");
const chunk = (index: number, lines: string[], firstLine: number): Chunk => ({ index, bytes: Buffer.from(lines.join("\n") + "\n"), firstLine });

test("a chunk's result: one transaction line per sale, its item lines, warnings for totals unlike their items", () => {
  const lines = [...dayLines.slice(0, 6), "01/05/2024 12:00,Leeds,Zed,Regular Latte - 2.15,9.99,CASH,"];
  const result = createChunkTransformer(OPTIONS)(chunk(0, lines, 1));
  const sales = lines.length;
  assert.is(result.sales, sales);
  assert.is(Buffer.from(result.transactions).toString().split("\n").length - 1, sales);
  assert.is(result.itemCounts.length, sales);
  assert.is(
    Buffer.from(result.items).toString().split("\n").length - 1,
    result.itemCounts.reduce((a, b) => a + b, 0),
  );
  assert.is(result.transactionIds.length, 16 * sales);
  assert.equal(result.warnings, [{ line: 7, reason: TOTAL_DIFFERS }]);
  assert.ok(result.branches.length === 1 && result.products.length > 0);
});

/** The six files a merger wrote. */
const merged = async (results: ChunkResult[], numberHere: boolean) => {
  const files = new TableFiles();
  const outputs = Object.fromEntries(Object.entries(files.files).map(([name, file]) => [name, text(file.stream)]));
  const merger = new ChunkMerger(files, numberHere, OPTIONS);
  for (const r of results) merger.add(r);
  files.end();
  const texts: Record<string, string> = {};
  for (const [name, t] of Object.entries(outputs)) texts[name] = await t;
  return { texts, merger };
};

test("merging chunks transformed apart numbers an identical sale across them like one transformer does", async () => {
  // The same five sales in two chunks: the second chunk's are the second occurrences.
  const body = dayLines.slice(0, 5);
  const chunks = [chunk(0, body, 1), chunk(1, body, 6)];
  const inOrder = createChunkTransformer(OPTIONS);
  const one = await merged(
    chunks.map((c) => inOrder(c)),
    false,
  );
  // Apart: each chunk by its own transformer that does not number (as in worker threads).
  const apart = await merged(
    chunks.map((c) => createChunkTransformer({ ...OPTIONS, numberOccurrences: false })(c)),
    true,
  );
  assert.equal(apart.texts, one.texts);
  const ids = one.texts
    .transactions!.trim()
    .split("\n")
    .slice(1)
    .map((l) => l.slice(0, 32));
  assert.is(new Set(ids).size, 10, "ten sales, ten ids");
  // Without numbering at the merge, the repeats would keep the first ids: the test can tell.
  const unnumbered = await merged(
    chunks.map((c) => createChunkTransformer({ ...OPTIONS, numberOccurrences: false })(c)),
    false,
  );
  assert.is.not(unnumbered.texts.transactions, one.texts.transactions);
  assert.is(one.merger.salesRead, 10);
  assert.is(one.texts.branches!.trim().split("\n").length, 2, "the branch once, under its header row");
});

test("the worker pool (transform-worker.ts) writes what one thread writes", async () => {
  const input = DAY + DAY;
  const run = async (workers: number) => {
    const files = new TableFiles();
    const outputs = Object.entries(files.files).map(async ([name, file]) => [name, await text(file.stream)] as const);
    const chunks = chunksOf(Readable.from([Buffer.from(input)]), 4096);
    const { merger } = await runChunks(chunks, files, { ...OPTIONS, workers });
    files.end();
    return { files: Object.fromEntries(await Promise.all(outputs)), sales: merger.salesRead };
  };
  const here = await run(0);
  const pooled = await run(2);
  assert.is(here.sales, 600);
  assert.equal(pooled, here);
});

test("csvField quotes only what needs it", () => {
  assert.is(csvField("Leeds"), "Leeds");
  assert.is(csvField('Say "hi", Bo'), '"Say ""hi"", Bo"');
  assert.is(csvField(" padded"), '" padded"');
  assert.is(csvField("two\nlines"), '"two\nlines"');
});

test.run();
