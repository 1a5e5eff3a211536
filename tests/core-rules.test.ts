// The transform's rules one by one (functions/core/rules.ts), what identifies a sale
// (functions/core/sale-identity.ts, checked against Node's own HMAC) and an uploader's branches
// (functions/core/branches.ts).
import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { allowedBranches, branchCheck, branchSlug } from "../functions/core/branches.js";
import { keyFingerprint, keyWeakness, MIN_KEY_CHARS } from "../functions/core/keys.js";
import {
  branchProblem,
  layoutOf,
  looksLikeHeader,
  parseCanonicalItem,
  parseTime,
  rowReader,
  sameItemRow,
  totalDiffers,
  type Item,
  type SaleRow,
} from "../functions/core/rules.js";
import {
  branchId,
  Occurrences,
  occurrenceContent,
  occurrenceIds,
  productId,
  saleContent,
  transactionIds,
  type SaleContentColumns,
} from "../functions/core/sale-identity.js";

const SECRET = "rules-test-secret-0123456789";
const CANONICAL = ["25/08/2021 09:00", "Chesterfield", "Ann", "Regular Latte - 2.30, Large Tea - 1.60", "3.90", "CARD", "1234"];
const LEGACY = ["2020-10-01 09:05", "Isle of Wight", "Bo", "Large,Latte,2.45,,Tea,1.20", "CASH", "3.65", ""];

test("layout: where the payment method is; the line before's layout is tried first", () => {
  assert.is(layoutOf(CANONICAL, "canonical"), "canonical");
  assert.is(layoutOf(CANONICAL, "legacy"), "canonical");
  assert.is(layoutOf(LEGACY, "canonical"), "legacy");
  // Both places hold a payment word: the previous line's layout wins.
  const both = ["01/01/2024 09:00", "Leeds", "Cy", "x", "CASH", "card", ""];
  assert.is(layoutOf(both, "legacy"), "legacy");
  assert.is(layoutOf(both, "canonical"), "canonical");
  assert.is(layoutOf(["01/01/2024 09:00", "Leeds", "Cy", "x", "1.00", "cheque", ""], "canonical"), null);
});

test("a header row is words where the date goes and no payment method; a damaged sale is not one", () => {
  assert.ok(looksLikeHeader(["Date", "Branch", "Customer", "Basket", "Total", "Payment", "Card"]));
  assert.not.ok(looksLikeHeader(["Date", "Branch", "Customer", "Basket", "Total", "CASH", "Card"]));
  assert.not.ok(looksLikeHeader(CANONICAL));
  assert.not.ok(looksLikeHeader(["Date", "Branch"]));
});

test("times: day first or ISO, days that exist, the clock in range", () => {
  assert.is(parseTime("01/02/2024 09:05"), "2024-02-01 09:05:00");
  assert.is(parseTime("9/5/2023 9:00"), "2023-05-09 09:00:00");
  assert.is(parseTime("2024-02-29T23:59:59"), "2024-02-29 23:59:59");
  assert.is(parseTime("29/02/2023 09:00"), null);
  assert.is(parseTime("31/04/2024 09:00"), null);
  assert.is(parseTime("01/01/1899 09:00"), null);
  assert.is(parseTime("01/01/2024 24:00"), null);
  assert.is(parseTime("01/01/2024"), null);
});

test("branch names: empty, too long, unshowable or not the uploader's are refused, in that order", () => {
  assert.is(branchProblem("Leeds"), null);
  assert.is(branchProblem(""), "empty branch");
  assert.match(branchProblem("é".repeat(51))!, /longer than 100 bytes/);
  assert.match(branchProblem("Lee\u202Eds")!, /U\+202E/);
  const leedsOnly = branchCheck(["leeds"]);
  assert.is(branchProblem("LEEDS", leedsOnly), null);
  assert.match(branchProblem("York", leedsOnly)!, /not one this uploader may send/);
});

test("canonical items: optional size, flavour after ' - ', price last; each fault named", () => {
  assert.equal(parseCanonicalItem("Large Flavoured latte - Vanilla - 2.85"), {
    size: "Large",
    product: "Flavoured latte",
    flavour: "Vanilla",
    pricePence: 285,
  });
  assert.equal(parseCanonicalItem("Speciality Tea - Peppermint - 1.30"), { size: null, product: "Speciality Tea", flavour: "Peppermint", pricePence: 130 });
  assert.match(parseCanonicalItem("Large Latte") as string, /has no price/);
  assert.match(parseCanonicalItem("Large Latte - 2.3.0") as string, /unreadable price/);
  assert.match(parseCanonicalItem("Large  - 2.30") as string, /no product name/);
  // A first word that is no size is part of the name.
  assert.equal(parseCanonicalItem("Big Latte - 2.30"), { size: null, product: "Big Latte", flavour: null, pricePence: 230 });
});

test("a row reader reads both layouts, keeps the layout from line to line, and names the first problem", () => {
  const read = rowReader();
  const items: Item[] = [];
  const canonical = read(CANONICAL, items) as SaleRow;
  assert.type(canonical, "object");
  assert.equal(
    { ...canonical },
    { time: "2021-08-25 09:00:00", branch: "Chesterfield", customerName: "Ann", cardNumber: "1234", payment: "CARD", totalPence: 390 },
  );
  assert.equal(
    items.map((i) => [i.size, i.product, i.pricePence]),
    [
      ["Regular", "Latte", 230],
      ["Large", "Tea", 160],
    ],
  );
  const legacy = read(LEGACY, items) as SaleRow;
  assert.is(legacy.payment, "CASH");
  assert.is(legacy.totalPence, 365);
  // The legacy triplets, an empty size kept unknown (null), never guessed.
  assert.equal(
    items.slice(2).map((i) => [i.size, i.product, i.pricePence]),
    [
      ["Large", "Latte", 245],
      [null, "Tea", 120],
    ],
  );

  // Several faults: the reason is the first in the documented order.
  const bad = (fields: string[]) => read(fields, []) as string;
  assert.is(bad(["a", "b"]), "expected 7 columns, found 2");
  assert.match(bad(["nope", "", "Ann", "", "3.90", "cheque", ""]), /unknown payment method/);
  assert.match(bad(["nope", "", "Ann", "", "3.90", "CARD", ""]), /unreadable date\/time/);
  assert.is(bad(["25/08/2021 09:00", "", "Ann", "", "x", "CARD", ""]), "empty branch");
  assert.match(bad(["25/08/2021 09:00", "Leeds", "Ann", "", "x", "CARD", ""]), /unreadable total in column 5 \(canonical layout, payment in column 6\)/);
  assert.is(bad(["25/08/2021 09:00", "Leeds", "Ann", "", "100000000.00", "CARD", ""]), "total over 99,999,999.99");
  assert.is(bad(["25/08/2021 09:00", "Leeds", "Ann", "", "1.00", "CARD", ""]), "empty basket");
  assert.match(bad(["2020-10-01 09:05", "Leeds", "Bo", "Large,Latte", "CASH", "1.00", ""]), /basket has 2 fields/);
});

test("normal-form rules: one item row per product and unit price; a total unlike its items is a warning", () => {
  assert.ok(sameItemRow("p1", 230, "p1", 230));
  assert.not.ok(sameItemRow("p1", 230, "p1", 250));
  assert.not.ok(sameItemRow("p1", 230, "p2", 230));
  assert.ok(totalDiffers(390, 400));
  assert.not.ok(totalDiffers(390, 390));
});

/** One sale as the columns the id is made of. */
const sale = (items: Item[], over: Partial<{ time: string; customer: string; total: number }> = {}): SaleContentColumns => ({
  time: [over.time ?? "2021-08-25 09:00:00"],
  branch: ["Chesterfield"],
  customerName: [over.customer ?? "Ann"],
  payment: ["CARD"],
  totalPence: Float64Array.of(over.total ?? 390),
  itemStart: Int32Array.of(0, items.length),
  items,
});
const LATTE: Item = { size: "Regular", product: "Latte", flavour: null, pricePence: 230 };
const TEA: Item = { size: "Large", product: "Tea", flavour: "Mint", pricePence: 160 };
const idOf = (columns: SaleContentColumns) => {
  const out = new Uint8Array(16);
  transactionIds(SECRET)(columns, 0, out, 0);
  return Buffer.from(out).toString("hex");
};
const nodeHmac = (message: string) => createHmac("sha256", SECRET).update(message).digest("hex").slice(0, 32);

test("a sale's id is HMAC-SHA256 over its content with items sorted: basket order and name padding do not matter", () => {
  const sorted = ["Large\u001fTea\u001fMint\u001f160", "Regular\u001fLatte\u001f\u001f230"].join("\u001e");
  assert.is(idOf(sale([LATTE, TEA])), nodeHmac(saleContent("2021-08-25 09:00:00", "Chesterfield", "Ann", sorted, 390, "CARD")));
  assert.is(idOf(sale([TEA, LATTE])), idOf(sale([LATTE, TEA])));
  assert.is(idOf(sale([LATTE], { customer: "  Ann " })), idOf(sale([LATTE])));
  // Each part of the content counts.
  assert.is.not(idOf(sale([LATTE], { customer: "Bo" })), idOf(sale([LATTE])));
  assert.is.not(idOf(sale([LATTE], { total: 231 })), idOf(sale([LATTE])));
  assert.is.not(idOf(sale([LATTE], { time: "2021-08-25 09:01:00" })), idOf(sale([LATTE])));
  assert.is.not(idOf(sale([LATTE, LATTE])), idOf(sale([LATTE])));
});

test("the n-th identical sale gets HMAC('occurrence', first id, n); the first keeps its id", () => {
  const first = Buffer.from(idOf(sale([LATTE])), "hex");
  const out = new Uint8Array(16);
  occurrenceIds(SECRET)(first, 0, 2, out, 0);
  assert.is(Buffer.from(out).toString("hex"), nodeHmac(occurrenceContent(first.toString("hex"), 2)));

  const occurrences = new Occurrences(occurrenceIds(SECRET));
  const ids = Buffer.concat([first, first, first, Buffer.from(idOf(sale([TEA])), "hex")]);
  assert.equal(
    [0, 1, 2, 3].map((i) => occurrences.number(ids, i * 16)),
    [1, 2, 3, 1],
  );
  const hexes = [0, 1, 2, 3].map((i) => ids.subarray(i * 16, i * 16 + 16).toString("hex"));
  assert.is(hexes[0], first.toString("hex"));
  assert.is(hexes[1], nodeHmac(occurrenceContent(first.toString("hex"), 2)));
  assert.is(hexes[2], nodeHmac(occurrenceContent(first.toString("hex"), 3)));
  assert.is(hexes[3], idOf(sale([TEA])));
});

test("branch and product ids are plain SHA-256 of their names: the same everywhere, no key", () => {
  const sha = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 32);
  assert.is(branchId("Leeds"), sha("Leeds"));
  assert.is(productId("Latte", "Large", null), sha("Latte\u001fLarge\u001f"));
  assert.is.not(productId("Latte", "Large", null), productId("Latte", null, null));
});

test("uploader branches: a file under uploads/<name>/ may hold that uploader's branches only", () => {
  assert.equal(allowedBranches("uploads/leeds/2024-03-01.csv"), ["leeds"]);
  assert.equal(allowedBranches("uploads/iow/day.csv", { iow: ["Isle of Wight", "Ryde"] }), ["Isle of Wight", "Ryde"]);
  assert.is(allowedBranches("raw/leeds/day.csv"), undefined);
  assert.is(allowedBranches("uploads/leeds"), undefined);
  assert.is(branchSlug(" ISLE  OF Wight "), "isle-of-wight");
  assert.is(branchCheck(["Isle of Wight"])("isle-of-wight"), null);
  assert.match(branchCheck(["Leeds"])("York ")!, /branch "York" is not one this uploader may send \(its branches: Leeds\)/);
});

test("the transaction-id key: at least 16 characters, known by a fingerprint that is not the key", () => {
  assert.is(MIN_KEY_CHARS, 16);
  assert.is(keyWeakness("x".repeat(16)), undefined);
  assert.match(keyWeakness("short")!, /holds 5 characters; a transaction-id key needs at least 16/);
  assert.is(keyFingerprint(SECRET), createHash("sha256").update(`coffeetl-key-fingerprint:${SECRET}`).digest("hex").slice(0, 16));
  assert.is.not(keyFingerprint(SECRET), keyFingerprint(`${SECRET}x`));
});

test("the rules stand alone: nothing they import, directly or not, is the engine's", () => {
  const core = join(new URL("..", import.meta.url).pathname, "functions/core");
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const [, spec] of readFileSync(file, "utf8").matchAll(/^(?:import|export)[^;]*? from "(\.[^"]+)\.js";/gms)) visit(join(dirname(file), `${spec}.ts`));
  };
  for (const rules of ["rules.ts", "sale-identity.ts", "keys.ts"]) visit(join(core, rules));
  const reached = [...seen].map((f) => relative(core, f)).sort();
  assert.ok(reached.includes("branches.ts") && reached.includes("hmac.ts"), `the walk follows imports: ${reached.join(", ")}`);
  assert.equal(
    reached.filter((f) => f.startsWith("engine/")),
    [],
  );
});

test.run();
