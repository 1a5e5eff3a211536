// The pure transform core: variants, damage, keys, normal forms, keepOnce, rejects, PII.
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { formatPence, parsePence, parseTime } from "../functions/core/rules.js";
import { IdSet, RecentIds } from "../functions/core/id-set.js";
import { collectGarbage } from "../functions/core/engine/collect-garbage.js";
import { createHmac, randomBytes } from "node:crypto";
import { hmacSha256 } from "../functions/core/hmac.js";
import { branchId, productId } from "../functions/core/sale-identity.js";
import { UnreadableFileError } from "../functions/core/errors.js";
import { COLUMNS } from "../functions/core/schema.js";
import { sampleChunks } from "../functions/core/sample.js";
import { assertNoPii, csvRows, fixture, transformText } from "./helpers.js";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { transform } from "../functions/core/transform.js";
import { readRecords } from "../functions/core/engine/read-lines.js";
import { parse } from "../functions/core/engine/parse.js";
import { clean, keepOnce, firstNormalForm, normalise, numberOccurrences, rowsOf } from "../functions/core/engine/steps.js";

const read = (name: string) => readFileSync(fixture(name));

test("money is parsed to exact pence and formatted back", () => {
  assert.is(parsePence("4"), 400);
  assert.is(parsePence("2.3"), 230);
  assert.is(parsePence("10.90"), 1090);
  assert.is(parsePence("0.0"), 0);
  assert.is(parsePence("17.3"), 1730);
  assert.is(parsePence("1.234"), null);
  assert.is(parsePence("1."), null);
  assert.is(parsePence("-1"), null);
  assert.is(parsePence("7.92528E+15"), null);
  assert.is(parsePence(""), null);
  assert.is(formatPence(705), "7.05");
  assert.is(formatPence(1730), "17.30");
  assert.is(formatPence(0), "0.00");
  // 0.1 + 0.2 style drift cannot happen: a basket summed in pence is exact.
  assert.is(
    [215, 325, 130].reduce((a, b) => a + b),
    parsePence("6.70"),
  );
});

test("dates are day-first or ISO with explicit formats, told apart by shape; invalid days rejected", () => {
  assert.is(parseTime("25/08/2021 09:00"), "2021-08-25 09:00:00");
  assert.is(parseTime("25/08/2021 09:00:59"), "2021-08-25 09:00:59");
  assert.is(parseTime("9/5/2023 9:00"), "2023-05-09 09:00:00");
  assert.is(parseTime("2020-10-01 09:01:30"), "2020-10-01 09:01:30");
  assert.is(parseTime("2020-10-01 09:01"), "2020-10-01 09:01:00");
  assert.is(parseTime("2020-10-01T09:01:00"), "2020-10-01 09:01:00");
  assert.is(parseTime("31/02/2024 10:00"), null);
  assert.is(parseTime("29/02/2024 10:00"), "2024-02-29 10:00:00");
  assert.is(parseTime("29/02/2023 10:00"), null);
  assert.is(parseTime("12/13/2024 10:00"), null);
  assert.is(parseTime("2024-13-01 10:00"), null);
  assert.is(parseTime("01/01/0000 10:00"), null, "no year 0 (PostgreSQL has none)");
  assert.is(parseTime("01/01/2024 24:00"), null);
  assert.is(parseTime("01/01/2024"), null);
});

test("canonical file: every sale, 3NF tables with the schema's columns, quantities for repeats", async () => {
  const { summary, files } = await transformText(read("canonical.csv"), "s", "raw/kendal.csv");
  assert.equal(summary.rowsRead, 5);
  assert.equal(summary.rows.transactions, 5);
  assert.is(summary.rejected, 0);
  assert.is(summary.warnings, 0);
  for (const table of ["branches", "products", "transactions", "transaction_items"] as const) {
    assert.is(files[table].split("\n")[0], COLUMNS[table].join(","), `${table} header`);
  }
  const branches = csvRows(files.branches);
  assert.equal(branches, [{ branch_id: branchId("Kendal"), branch_name: "Kendal" }]);
  const products = csvRows(files.products);
  const iced = products.find((p) => p.product_name === "Flavoured iced latte")!;
  assert.equal(iced, {
    product_id: productId("Flavoured iced latte", "Large", "Hazelnut"),
    product_name: "Flavoured iced latte",
    size: "Large",
    flavour: "Hazelnut",
  });
  // `Hot chocolate` and `Hot Chocolate` are different products.
  assert.ok(products.some((p) => p.product_name === "Hot chocolate"));
  assert.ok(products.some((p) => p.product_name === "Hot Chocolate"));
  const sales = csvRows(files.transactions);
  assert.is(sales[0]!.transaction_time, "2024-03-01 09:00:00");
  assert.is(sales[0]!.total_amount, "5.40");
  assert.is(sales[0]!.source_key, "raw/kendal.csv");
  assert.ok(sales.every((s) => /^[0-9a-f]{32}$/.test(s.transaction_id!)));
  // Two different customers, same basket, same minute: two sales.
  assert.is(sales.filter((s) => s.transaction_time === "2024-03-01 09:02:00").length, 2);
  const items = csvRows(files.transaction_items);
  const americano = items.filter((i) => i.product_id === productId("Americano", "Regular", null));
  assert.equal(
    americano.map((i) => [i.unit_price, i.quantity]),
    [["1.95", "2"]],
  );
  // Every item value adds up to the totals.
  const itemsPence = items.reduce((n, i) => n + parsePence(i.unit_price!)! * Number(i.quantity), 0);
  assert.is(
    itemsPence,
    sales.reduce((n, s) => n + parsePence(s.total_amount!)!, 0),
  );
  assertNoPii(Object.values(files).join("\n"), "transformed files");
});

test("legacy file: CRLF, yyyy-mm-dd, triplets with empty size kept NULL, flavour split like canonical", async () => {
  const { summary, files } = await transformText(read("legacy_crlf.csv"));
  assert.is(summary.rows.transactions, 3);
  assert.is(summary.rejected, 0);
  const products = csvRows(files.products);
  const mocha = products.find((p) => p.product_name === "Mocha")!;
  assert.is(mocha.size, "", "unknown size is written as NULL");
  const iced = products.filter((p) => p.product_name === "Flavoured iced latte");
  assert.equal(iced.map((p) => [p.size, p.flavour]).sort(), [
    ["", "Hazelnut"],
    ["Large", "Hazelnut"],
  ]);
  assert.ok(products.some((p) => p.product_id === productId("Flavoured iced latte", "Large", "Hazelnut")));
  const sales = csvRows(files.transactions);
  assert.equal(
    sales.map((s) => [s.transaction_time, s.payment_method, s.total_amount]),
    [
      ["2020-10-01 09:00:00", "CARD", "6.85"],
      ["2020-10-01 09:01:00", "CASH", "4.30"],
      ["2020-10-01 09:02:00", "CARD", "3.25"],
    ],
  );
  const lattes = csvRows(files.transaction_items).filter((i) => i.product_id === productId("Latte", "Regular", null));
  assert.equal(
    lattes.map((i) => i.quantity),
    ["2"],
  );
  assertNoPii(Object.values(files).join("\n"), "transformed files");
});

test("header row, BOM and spaces in the header are skipped, not rejected", async () => {
  const { summary, files } = await transformText(read("header_bom.csv"));
  assert.is(summary.rowsRead, 2);
  assert.is(summary.rejected, 0);
  assert.is(csvRows(files.transactions).length, 2);
  assert.is(csvRows(files.transaction_items)[0]!.quantity, "2");
});

test("space-padded fields (also after a closing quote) and whitespace-only lines give the same sales", async () => {
  const secret = "same-secret";
  const padded = await transformText(read("padded.csv"), secret);
  const clean = await transformText(read("canonical.csv"), secret);
  assert.is(padded.summary.rejected, 0);
  assert.is(padded.summary.rowsRead, 2);
  const ids = (t: typeof clean) => csvRows(t.files.transactions).map((s) => s.transaction_id);
  assert.equal(ids(padded), ids(clean).slice(0, 2));
  assert.is(csvRows(padded.files.branches)[0]!.branch_name, "Kendal");
});

test("spreadsheet re-saves: d/m/yyyy H:MM, whole-pound totals, mangled cards", async () => {
  const { summary, files } = await transformText(read("excel_resaved.csv"));
  assert.is(summary.rejected, 0);
  const sales = csvRows(files.transactions);
  assert.equal(
    sales.map((s) => [s.transaction_time, s.total_amount]),
    [
      ["2024-03-01 09:00:00", "5.40"],
      ["2024-03-01 09:02:00", "2.90"],
      ["2024-03-01 09:10:00", "4.00"],
    ],
  );
  // The card number is not part of the id: the re-saved sale is the one from the original file.
  const original = await transformText(read("canonical.csv"));
  assert.is(sales[0]!.transaction_id, csvRows(original.files.transactions)[0]!.transaction_id);
  assertNoPii(Object.values(files).join("\n"), "transformed files");
});

test("broken rows are rejected with line and reason, good rows kept, mismatched totals warned", async () => {
  const { summary, files } = await transformText(read("broken_rows.csv"));
  const rejects = csvRows(files.rejects);
  assert.equal(
    rejects.map((r) => Number(r.line_number)),
    [2, 3, 4, 5, 6],
  );
  const reason = (line: number) => rejects.find((r) => Number(r.line_number) === line)!.reason!;
  assert.match(reason(2), /expected 7 columns, found 6/);
  assert.match(reason(3), /date/);
  assert.match(reason(4), /price/);
  assert.match(reason(5), /payment method/);
  assert.match(reason(6), /empty basket/);
  assert.is(summary.rejected, 5);
  assert.is(summary.rows.transactions, 3);
  assert.is(summary.rowsRead, 8);
  assert.is(summary.warnings, 1);
  assert.equal(
    summary.firstWarnings?.map((w) => w.line),
    [8],
  );
  // The mismatched sale is still loaded with the till's total.
  assert.ok(csvRows(files.transactions).some((s) => s.total_amount === "9.99"));
  assertNoPii(files.rejects, "rejects.csv");
});

test("one sale per till line: identical lines stay sales, numbered; the same content again gives the same ids", async () => {
  const content = readFileSync(fixture("canonical.csv"), "utf8");
  const first = content.split("\n")[0]!;
  const ids = async (input: string) => csvRows((await transformText(input)).files.transactions).map((s) => s.transaction_id!);
  const once = await ids(content);
  const { summary, files } = await transformText(content + first + "\n" + content);
  assert.is(summary.rowsRead, 11);
  assert.is(summary.rows.transactions, 11);
  const thrice = csvRows(files.transactions).map((s) => s.transaction_id!);
  assert.is(new Set(thrice).size, 11, "every line its own id");
  // The first five are the file's own ids: a sale's id changes only when it repeats.
  assert.equal(thrice.slice(0, 5), once);
  // Each sale's items are written under each of its ids.
  const items = csvRows(files.transaction_items);
  const itemRows = async (input: string) => (await transformText(input)).summary.rows.transaction_items;
  assert.is(items.length, 2 * (await itemRows(content)) + (await itemRows(first + "\n")));
  for (const id of thrice)
    assert.ok(
      items.some((i) => i.transaction_id === id),
      "items of every sale",
    );
  // Seen again (re-upload, padded or re-saved copy, an export that overlaps): the same ids line for line.
  assert.equal(await ids(content + first + "\n" + content), thrice);
  assert.equal(await ids(content + first + "\n"), thrice.slice(0, 6), "a partial export is a prefix");
  const resaved =
    "\uFEFF" +
    (content + first + "\n" + content)
      .replace(/CARD,\d+/g, "CARD,4.11122E+15")
      .split("\n")
      .join("\r\n") +
    "   \r\n";
  assert.equal(await ids(resaved), thrice);
});

test("transaction ids are keyed: same secret same id, another secret another id", async () => {
  const input = read("canonical.csv");
  const a = csvRows((await transformText(input, "one")).files.transactions).map((s) => s.transaction_id);
  const b = csvRows((await transformText(input, "one")).files.transactions).map((s) => s.transaction_id);
  const c = csvRows((await transformText(input, "two")).files.transactions).map((s) => s.transaction_id);
  assert.equal(a, b);
  assert.ok(a.every((id, i) => id !== c[i]));
});

test("binary and prose files are unreadable with a clear reason", async () => {
  for (const [name, pattern] of [
    ["not_csv.csv", /binary content/],
    ["prose.csv", /no readable sales: all 3 data rows were rejected \(first: line 1: expected 7 columns, found 2\)/],
  ] as const) {
    try {
      await transformText(read(name));
      assert.unreachable(`${name} should fail`);
    } catch (error) {
      assert.instance(error, UnreadableFileError, name);
      assert.match((error as Error).message, pattern);
    }
  }
  await transformText("").then(
    () => assert.unreachable("empty file should fail"),
    (error: Error) => assert.match(error.message, /empty/),
  );
});

test("an unclosed quote rejects its own line only, and the file loads the rest", async () => {
  const good = "01/03/2024 09:00,Kendal,A B,Regular Latte - 2.15,2.15,CASH,\n";
  const { summary, files } = await transformText(good + '01/03/2024 09:01,Kendal,C D,"Regular Latte - 2.15,2.15,CASH,\n' + good.replace("09:00", "09:05"));
  assert.is(summary.rows.transactions, 2);
  assert.is(summary.rejected, 1);
  assert.is(files.rejects, "line_number,reason\n2,malformed CSV: a quote opens a field and is never closed\n");
});

test("IdSet keeps 128-bit ids exactly, across growth", () => {
  const set = new IdSet();
  const ids = Array.from({ length: 5000 }, (_, i) => (i * 2654435761).toString(16).padStart(32, "0").slice(-32));
  for (const id of ids) assert.ok(set.add(id));
  for (const id of ids) assert.not.ok(set.add(id));
  // Ids differing only in the last or the first hex digit are different.
  assert.ok(set.add("f" + ids[1]!.slice(1)));
  assert.ok(set.add(ids[2]!.slice(0, 31) + "e"));
  assert.is(set.size, 5002);
  for (const bad of ["A".repeat(32), "g".repeat(32), "\u0130".repeat(32), "abc"]) assert.throws(() => set.add(bad));
  // Random ids spread over every shard; an id added as bytes is the same id as its hex.
  const keys = randomBytes(16 * 20_000);
  for (let i = 0; i < 20_000; i++) assert.ok(set.addBytes(keys, i * 16));
  for (let i = 0; i < 20_000; i++) assert.not.ok(set.add(keys.subarray(i * 16, i * 16 + 16).toString("hex")));
  assert.is(set.size, 25_002);
  assert.throws(() => set.addBytes(keys, keys.length - 8));
});

test("RecentIds finds every id added fewer than `window` ids ago, and holds at most two windows", () => {
  const ids = randomBytes(16 * 12);
  const recent = new RecentIds(4);
  for (let i = 0; i < 4; i++) assert.ok(recent.addBytes(ids, i * 16));
  // The first window is now the previous generation: still found.
  for (let i = 0; i < 4; i++) assert.not.ok(recent.addBytes(ids, i * 16));
  for (let i = 4; i < 8; i++) assert.ok(recent.addBytes(ids, i * 16));
  assert.not.ok(recent.addBytes(ids, 7 * 16));
  // Two windows later the first ids are forgotten, and pass as new.
  assert.ok(recent.addBytes(ids, 0));
  assert.throws(() => new RecentIds(0), /positive integer/);
  const set = new IdSet();
  set.addBytes(ids, 16);
  assert.not.ok(set.addBytes(ids, 16), "present");
  assert.ok(set.addBytes(ids, 32), "absent");
});

test("identical sales further apart than the occurrence window get the first one's id again", async () => {
  const content = readFileSync(fixture("canonical.csv"), "utf8");
  const twice = content + content;
  const ids = (t: { files: { transactions: string } }) => csvRows(t.files.transactions).map((s) => s.transaction_id!);
  const wide = await transformText(twice, "s", "k.csv", { occurrenceWindow: 8 });
  assert.is(new Set(ids(wide)).size, 10);
  // A window of 2 remembers 2 to 4 sales: the repeats, 5 sales later, are not found and keep the
  // first id (the load then keeps one of each): bounded memory's price, only in huge files.
  const narrow = await transformText(twice, "s", "k.csv", { occurrenceWindow: 2 });
  assert.equal(ids(narrow).slice(5), ids(narrow).slice(0, 5));
  assert.equal(ids(narrow).slice(0, 5), ids(wide).slice(0, 5));
});

test("collectGarbage frees what is unreachable, without --expose-gc and without leaving gc global", async () => {
  let target: object | undefined = { payload: new Uint8Array(1024) };
  const ref = new WeakRef(target);
  // eslint-disable-next-line no-useless-assignment -- dropping the only strong reference is the point
  target = undefined;
  // A WeakRef's target lives at least until the job that made it ends.
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
  assert.is(ref.deref(), undefined);
  assert.is(typeof (globalThis as { gc?: unknown }).gc, "undefined");
});

test("sample files are deterministic, canonical and fully readable", async () => {
  const one = [...sampleChunks({ rows: 300, seed: 7, branch: "Leeds", date: "2024-01-02" })].join("");
  const two = [...sampleChunks({ rows: 300, seed: 7, branch: "Leeds", date: "2024-01-02" })].join("");
  const other = [...sampleChunks({ rows: 300, seed: 8, branch: "Leeds", date: "2024-01-02" })].join("");
  assert.is(one, two);
  assert.is.not(one, other);
  const { summary, files } = await transformText(one);
  assert.is(summary.rowsRead, 300);
  assert.is(summary.rejected, 0);
  assert.is(summary.warnings, 0);
  assert.ok(
    csvRows(files.products).some((p) => p.product_name === "Hot Chocolate"),
    "Leeds sells Hot Chocolate",
  );
  assert.is(summary.rows.transactions, 300);
});

test("a large sample keeps every sale, identical ones included (the bench checks 1,000,000)", async () => {
  const rows = 30_000;
  const day = [...sampleChunks({ rows, seed: "dupes", branch: "Chesterfield", date: "2024-03-01" })].join("");
  // Without the card (not part of a sale's identity), some lines are identical: they must stay.
  const sales = day
    .trimEnd()
    .split("\n")
    .map((l) => l.slice(0, l.lastIndexOf(",")));
  assert.ok(new Set(sales).size < rows, "the sample holds identical sales");
  const { summary, files } = await transformText(day);
  assert.equal([summary.rowsRead, summary.rows.transactions, summary.rejected], [rows, rows, 0]);
  assert.is(new Set(csvRows(files.transactions).map((s) => s.transaction_id)).size, rows);
});

test("chunked and multi-threaded transforms give the same files, line numbers and counts", async () => {
  const day = [...sampleChunks({ rows: 4000, seed: 11, branch: "Leeds", date: "2024-05-01" })].join("");
  const lines = day.split("\n");
  // A quoted field spanning two lines, a broken row, and the whole day again (cross-chunk repeats).
  lines.splice(1000, 0, '01/05/2024 12:00,Leeds,Multi Line,"Regular Latte - 2.15,\n Large Latte - 2.45",4.60,CASH,');
  lines.splice(2500, 0, "01/05/2024 13:00,Leeds,Broken Row,Regular Latte - 2.15,2.15,CHEQUE,");
  const input = lines.join("\n") + day;
  const runWith = async (chunkBytes: number, workers: number, sourceKey = "k.csv") => {
    const run = transform(Readable.from([Buffer.from(input)]), { transactionIdKey: "s", sourceKey, chunkBytes, workers });
    const names = Object.keys(run.outputs) as Array<keyof typeof run.outputs>;
    const [summary, ...texts] = await Promise.all([run.done, ...names.map((n) => text(run.outputs[n]))]);
    return { summary, files: Object.fromEntries(names.map((n, i) => [n, texts[i]])) };
  };
  const whole = await runWith(64 * 1024 * 1024, 0);
  assert.is(whole.summary.rowsRead, 8003);
  assert.is(whole.summary.rejected, 3);
  assert.equal(
    csvRows(whole.files.rejects!).map((r) => [r.line_number, r.reason!.slice(0, 30)]),
    [
      ["1001", "malformed CSV: a quote opens a"],
      ["1002", "expected 7 columns, found 4"],
      ["2502", "unknown payment method: expect"],
    ],
  );
  // The day twice: every sale twice, each its own sale (numbered across chunks and threads alike).
  assert.is(whole.summary.rows.transactions, 8000);
  assert.is(new Set(csvRows(whole.files.transactions!).map((s) => s.transaction_id)).size, 8000);
  for (const [chunkBytes, workers] of [
    [16 * 1024, 0],
    [16 * 1024, 2],
    [50_000, 3],
  ] as const) {
    const other = await runWith(chunkBytes, workers);
    assert.equal(other.summary, whole.summary, `chunks of ${chunkBytes} bytes, ${workers} workers`);
    assert.equal(other.files, whole.files, `chunks of ${chunkBytes} bytes, ${workers} workers`);
  }
  // Sales lines over 1 KB each: a worker's output outgrows its shared result slot (1 MiB) and
  // takes buffers of its own for the outputs that do not fit.
  const longKey = `raw/${"deep/".repeat(200)}day.csv`;
  const wide = await runWith(64 * 1024 * 1024, 0, longKey);
  const overflowing = await runWith(600 * 1024, 2, longKey);
  assert.equal(overflowing.summary, wide.summary);
  assert.equal(overflowing.files, wide.files);
});

test("the fast HMAC equals Node's createHmac for ASCII, binary, long and non-ASCII keys", () => {
  for (const key of ["abc", "x".repeat(100), randomBytes(32).toString("hex"), randomBytes(40), "ключ"]) {
    const hmac = hmacSha256(key);
    // Written at an offset, into room that starts and ends with bytes it must leave alone.
    const out = Buffer.alloc(34, 0xee);
    for (const message of ["", "hello", "2024-01-01 09:00:00\u001fLeeds\u001fZoë Brontë\u001e", "x".repeat(5000)]) {
      hmac(message, out, 1, 32);
      assert.is(out.subarray(1, 33).toString("hex"), createHmac("sha256", key).update(message).digest("hex"));
      assert.equal([out[0], out[33]], [0xee, 0xee]);
    }
  }
});

test("extreme values render whole: the largest total, big quantities, a non-ASCII source key", async () => {
  const basket = Array.from({ length: 40 }, () => "Large Latte - 2.45").join(", ");
  const input = `01/03/2024 09:00,Kendal,Ann Example,"${basket}",99999999.99,CARD,\n01/03/2024 09:01,Kendal,Ann Example,"${basket}",100000000.00,CARD,\n`;
  const { summary, files } = await transformText(input, "s", "uploads/café-ß/01-03-2024.csv");
  assert.is(summary.rows.transactions, 1);
  assert.is(summary.warnings, 1);
  assert.is(files.rejects, 'line_number,reason\n2,"total over 99,999,999.99"\n', "DECIMAL(10,2) holds no more");
  const [sale] = csvRows(files.transactions);
  assert.is(sale!.total_amount, "99999999.99");
  assert.is(sale!.source_key, "uploads/café-ß/01-03-2024.csv");
  assert.equal(
    csvRows(files.transaction_items).map((i) => [i.unit_price, i.quantity]),
    [["2.45", "40"]],
  );
});

/** The steps by hand over one chunk of a fixture, as `createChunkTransformer` runs them. */
const stepsOver = (name: string) => {
  const bytes = readFileSync(fixture(name));
  const sales = parse()(readRecords({ index: 0, firstLine: 1, bytes }), { first: true });
  return { sales, entities: normalise()(firstNormalForm(clean("s")(sales))) };
};

test("steps stand alone: parse keeps PII columns, clean returns sales without them", async () => {
  const { sales } = stepsOver("canonical.csv");
  assert.ok(sales.count > 0);
  assert.ok(
    sales.customerName.some((name) => name.length > 0),
    "the fixture has customer names",
  );
  const cleaned = clean("s")(sales);
  assert.not.ok("customerName" in cleaned);
  assert.not.ok("cardNumber" in cleaned);
  assertNoPii(JSON.stringify(cleaned), "clean's output");
  assert.is(cleaned.transactionId.length, 16 * cleaned.count);
  const firstId = csvRows((await transformText(readFileSync(fixture("canonical.csv")), "s")).files.transactions)[0]!.transaction_id;
  assert.is(Buffer.from(cleaned.transactionId.subarray(0, 16)).toString("hex"), firstId);
});

test("numberOccurrences gives a repeated chunk's sales new ids, the same every time, without changing its input", () => {
  const { sales } = stepsOver("canonical.csv");
  const keyed = clean("s")(sales);
  const before = keyed.transactionId.slice();
  const run = () => {
    const number = numberOccurrences("s");
    return [number(keyed), number(keyed), number(keyed)].map((s) => Buffer.from(s.transactionId).toString("hex"));
  };
  const [once, twice, thrice] = run();
  assert.is(
    once,
    before.reduce((hex, b) => hex + b.toString(16).padStart(2, "0"), ""),
    "first occurrences keep the plain id",
  );
  const all = [once!, twice!, thrice!].flatMap((hex) => hex.match(/.{32}/g)!);
  assert.is(new Set(all).size, 3 * keyed.count);
  assert.equal(run(), [once, twice, thrice]);
  assert.equal(keyed.transactionId, before);
  // Another secret, other occurrence ids.
  assert.is.not(Buffer.from(numberOccurrences("t")(numberOccurrences("t")(keyed)).transactionId).toString("hex"), twice);
});

test("keepOnce keeps every sale, each branch and product once, and sums repeated items without changing its input", () => {
  const { entities } = stepsOver("canonical.csv");
  const t = entities.transactions;
  // The same chunk seen twice: sales stay (numbering tells them apart), entities are not repeated.
  const keepOnceFile = keepOnce();
  const first = keepOnceFile(entities);
  const again = keepOnceFile(entities);
  assert.is(rowsOf(first.transactions).length, t.count);
  assert.is(rowsOf(again.transactions).length, t.count);
  assert.equal(again.branches, []);
  assert.equal(again.products, []);
  // Repeated basket items became quantities on kept rows; the input column still says 1.
  const items = first.transactionItems;
  const quantities = [...rowsOf(items)].map((i) => items.quantity[i]!);
  assert.ok(
    quantities.some((q) => q > 1),
    "the fixture repeats an item in a basket",
  );
  assert.is(
    quantities.reduce((a, b) => a + b, 0),
    entities.transactionItems.count,
  );
  assert.ok(entities.transactionItems.quantity.every((q) => q === 1));
  // An earlier selection (here: all but the first sale) is honoured, not re-widened.
  const selected = Int32Array.from({ length: t.count - 1 }, (_, i) => i + 1);
  const narrowed = keepOnce()({ ...entities, transactions: { ...t, selected } });
  assert.equal([...rowsOf(narrowed.transactions)], [...selected]);
  assert.ok([...rowsOf(narrowed.transactionItems)].every((i) => entities.transactionItems.sale[i] !== 0));
});

test.run();
