// `parse`: CSV records of one raw file → typed sale columns (and rejects). Each line's layout
// (canonical 2021+ or legacy 2020) is read from what its columns hold: where the payment method
// and the total are, and so how its basket is written. Either layout may carry either date style.
// Values are checked against their warehouse column's limits (schema.ts), so no load fails on
// them. Dates are read with explicit day-first formats, never `new Date(string)`.
import { branchCheck } from "./branches.js";
import { parsePence } from "./money.js";
import { ITEM_CACHE_LIMIT, type CsvRecords, type Item, type PaymentMethod, type RawSales, type Reject, type Size } from "./records.js";
import { COLUMN_LIMITS } from "./schema.js";

export type Variant = "canonical" | "legacy";
const COLUMN_COUNT = 7;

const DAY_FIRST_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;
const ISO_DATE = /^(\d{4})-(\d{1,2})-(\d{1,2})$/;
const CLOCK = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/;
/** A till date before this is damage, and PostgreSQL has no year 0. */
const FIRST_YEAR = 1900;

const pad = (n: number) => (n < 10 ? `0${n}` : String(n));

function isoDate(y: number, mo: number, d: number): string | null {
  if (y < FIRST_YEAR || mo < 1 || mo > 12 || d < 1) return null;
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return d > daysInMonth ? null : `${y}-${pad(mo)}-${pad(d)}`;
}

/** `dd/mm/yyyy` (also `d/m/yyyy`) or `yyyy-mm-dd`, told apart by their shape. */
function parseDate(text: string): string | null {
  if (text.charCodeAt(4) === 45 /* - */) {
    const m = ISO_DATE.exec(text);
    return m ? isoDate(+m[1]!, +m[2]!, +m[3]!) : null;
  }
  const m = DAY_FIRST_DATE.exec(text);
  return m ? isoDate(+m[3]!, +m[2]!, +m[1]!) : null;
}

/**
 * `dd/mm/yyyy HH:MM[:SS]` (also `9/5/2023 9:00`) or `yyyy-mm-dd HH:MM[:SS]` (also with a `T`),
 * in either layout → `YYYY-MM-DD HH:MM:SS`.
 */
export function parseTime(text: string): string | null {
  let at = text.indexOf(" ");
  if (at < 0) at = text.indexOf("T");
  if (at < 0) return null;
  const date = parseDate(text.slice(0, at));
  if (date === null) return null;
  const clock = text.slice(at + 1);
  // The usual `HH:MM` needs no regular expression.
  if (clock.length === 5 && clock.charCodeAt(2) === 58) {
    const h = parseTwoDigits(clock, 0);
    const mi = parseTwoDigits(clock, 3);
    return h < 24 && mi < 60 ? `${date} ${clock}:00` : null;
  }
  const m = CLOCK.exec(clock);
  if (!m) return null;
  const h = +m[1]!;
  const mi = +m[2]!;
  const sec = m[3] ? +m[3] : 0;
  return h < 24 && mi < 60 && sec < 60 ? `${date} ${pad(h)}:${pad(mi)}:${pad(sec)}` : null;
}

/** Two ASCII digits at `at` as a number, or 99 when they are not digits. */
function parseTwoDigits(text: string, at: number): number {
  const a = text.charCodeAt(at) - 48;
  const b = text.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : 99;
}

function parsePayment(text: string): PaymentMethod | null {
  if (text === "CARD" || text === "CASH") return text;
  const upper = text.toUpperCase();
  return upper === "CASH" || upper === "CARD" ? upper : null;
}

function parseSize(word: string): Size | null | undefined {
  const lower = word.toLowerCase();
  if (lower === "regular") return "Regular";
  if (lower === "large") return "Large";
  return undefined;
}

/** Whether `text` fits a VARCHAR of `limit` bytes (UTF-8): at most 3 bytes per UTF-16 unit. */
export const fitsBytes = (text: string, limit: number): boolean => text.length * 3 <= limit || Buffer.byteLength(text) <= limit;

/** What is wrong with an item's names or price for the warehouse, or null. */
function itemProblem(product: string, flavour: string | null, pricePence: number): string | null {
  if (!fitsBytes(product, COLUMN_LIMITS.product_name)) return `has a product name longer than ${COLUMN_LIMITS.product_name} bytes`;
  if (flavour !== null && !fitsBytes(flavour, COLUMN_LIMITS.flavour)) return `has a flavour longer than ${COLUMN_LIMITS.flavour} bytes`;
  if (pricePence > COLUMN_LIMITS.maxAmountPence) return "has a price over 99,999,999.99";
  return null;
}

/** `Flavoured iced latte - Hazelnut` → product and flavour; the same rule for both variants. */
function splitFlavour(name: string): { product: string; flavour: string | null } {
  const at = name.indexOf(" - ");
  if (at < 0) return { product: name.trim(), flavour: null };
  return { product: name.slice(0, at).trim(), flavour: name.slice(at + 3).trim() || null };
}

const CANONICAL_ITEM = "`<Size> <Product>[ - <Flavour>] - <price>`";

/** One canonical item, `<Size> <Product>[ - <Flavour>] - <price>`; a string says what is wrong. */
function parseCanonicalItem(text: string): Item | string {
  const at = text.lastIndexOf(" - ");
  if (at < 0) return `has no price (expected ${CANONICAL_ITEM})`;
  const pricePence = parsePence(text.slice(at + 3).trim());
  if (pricePence === null) return `has an unreadable price (expected ${CANONICAL_ITEM})`;
  const head = text.slice(0, at);
  const space = head.indexOf(" ");
  const size = space > 0 ? parseSize(head.slice(0, space)) : undefined;
  const name = size === undefined ? head : head.slice(space + 1);
  const { product, flavour } = splitFlavour(name);
  if (product === "") return `has no product name (expected ${CANONICAL_ITEM})`;
  return itemProblem(product, flavour, pricePence) ?? { size: size ?? null, product, flavour, pricePence };
}

/** Canonical basket: items joined by `, `, appended to `out`. Equal item texts share one Item. */
function readCanonicalBasket(basket: string, cache: Map<string, Item | string>, out: Item[]): string | null {
  const parts = basket.split(",");
  for (let i = 0; i < parts.length; i++) {
    const text = parts[i]!.trim();
    if (text === "") continue;
    let item = cache.get(text);
    if (item === undefined) {
      item = parseCanonicalItem(text);
      if (cache.size < ITEM_CACHE_LIMIT) cache.set(text, item);
    }
    if (typeof item === "string") return `basket item ${i + 1} ${item}`;
    out.push(item);
  }
  return null;
}

/** Legacy basket: flat `size,product,price` triplets (an empty size stays null), appended to `out`. */
function readLegacyBasket(basket: string, out: Item[]): string | null {
  const parts = basket.split(",");
  if (parts.length % 3 !== 0) return `basket has ${parts.length} fields, not the legacy layout's size,product,price triplets`;
  for (let i = 0; i < parts.length; i += 3) {
    const n = i / 3 + 1;
    const sizeText = parts[i]!.trim();
    const size = sizeText === "" ? null : parseSize(sizeText);
    if (size === undefined) return `basket item ${n} has an unknown size`;
    const { product, flavour } = splitFlavour(parts[i + 1]!);
    if (product === "") return `basket item ${n} has no product name`;
    const pricePence = parsePence(parts[i + 2]!.trim());
    if (pricePence === null) return `basket item ${n} has an unreadable price`;
    const problem = itemProblem(product, flavour, pricePence);
    if (problem !== null) return `basket item ${n} ${problem}`;
    out.push({ size, product, flavour, pricePence });
  }
  return null;
}

/** A header row: words where a sale has a date, and no payment method in either layout's place (a damaged sale keeps those). */
export const looksLikeHeader = (fields: string[]) =>
  fields.length === COLUMN_COUNT && /[a-z]/i.test(fields[0]!) && !/\d/.test(fields[0]!) && parsePayment(fields[4]!) === null && parsePayment(fields[5]!) === null;

/** Column (0-based) of the payment method and of the total in each layout. */
const PAYMENT_AT: Record<Variant, number> = { canonical: 5, legacy: 4 };
const TOTAL_AT: Record<Variant, number> = { canonical: 4, legacy: 5 };
const OTHER: Record<Variant, Variant> = { canonical: "legacy", legacy: "canonical" };
const NO_LAYOUT = "unknown payment method: expected CASH or CARD in column 6 (canonical layout) or column 5 (legacy layout)";

/** Where a chunk sits in its file: whether a header may open it. */
export interface ChunkPlace {
  /** The chunk starts the file, so its first record may be a header row (skipped). */
  first: boolean;
}

/**
 * Characters a dashboard cannot show as themselves (controls, invisible format characters such as
 * right-to-left overrides, private-use and lone surrogates): a branch named with one would look like
 * another branch, or show nothing, in every list and legend.
 */
const UNSHOWABLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}\u2028\u2029]/u;

function unshowable(name: string): string | null {
  const m = UNSHOWABLE.exec(name);
  if (!m) return null;
  const code = m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
  return `branch name has a control or invisible character (U+${code}) that dashboards cannot show`;
}

/**
 * Creates the `parse` step for one file; call it on each chunk's records in turn. Each line is
 * tried first in the layout of the line before it, then in the other.
 */
export interface ParseOptions {
  /** Branches the file may hold (an uploader's, functions/core/branches.ts); any when omitted. */
  branches?: readonly string[];
}

export function parse(options: ParseOptions = {}) {
  const allowed = options.branches ? branchCheck(options.branches) : undefined;
  const items = new Map<string, Item | string>();
  // A file holds one trading day, so a few hundred distinct times: each is read once per file.
  const times = new Map<string, string | null>();
  const branches = new Map<string, string | null>();
  let layout: Variant = "canonical";
  let lastBranch: string | undefined;
  return function parseChunk(records: CsvRecords, place: ChunkPlace): RawSales {
    const { fields } = records;
    const n = fields.length;
    const line = new Int32Array(n);
    const time: string[] = [];
    const branch: string[] = [];
    const payment: PaymentMethod[] = [];
    const totalPence = new Float64Array(n);
    const itemStart = new Int32Array(n + 1);
    const basketItems: Item[] = [];
    const customerName: string[] = [];
    const cardNumber: string[] = [];
    const rejects: Reject[] = [];
    let count = 0;
    for (let r = 0; r < n; r++) {
      const f = fields[r]!;
      const at = records.line[r]!;
      if (r === 0 && place.first && looksLikeHeader(f)) continue;
      if (f.length !== COLUMN_COUNT) {
        rejects.push({ line: at, reason: `expected ${COLUMN_COUNT} columns, found ${f.length}` });
        continue;
      }
      let pay = parsePayment(f[PAYMENT_AT[layout]]!);
      if (pay === null) {
        pay = parsePayment(f[PAYMENT_AT[OTHER[layout]]]!);
        if (pay !== null) layout = OTHER[layout];
      }
      let t = times.get(f[0]!);
      if (t === undefined) {
        t = parseTime(f[0]!);
        if (times.size < ITEM_CACHE_LIMIT) times.set(f[0]!, t);
      }
      // Lines of a file mostly share their branch: check a name once.
      let branchProblem = f[1] === lastBranch ? null : branches.get(f[1]!);
      if (branchProblem === undefined) {
        branchProblem =
          f[1] === ""
            ? "empty branch"
            : !fitsBytes(f[1]!, COLUMN_LIMITS.branch_name)
              ? `branch name longer than ${COLUMN_LIMITS.branch_name} bytes`
              : (unshowable(f[1]!) ?? allowed?.(f[1]!) ?? null);
        if (branches.size < ITEM_CACHE_LIMIT) branches.set(f[1]!, branchProblem);
      }
      const total = pay === null ? null : parsePence(f[TOTAL_AT[layout]]!);
      const problem =
        pay === null
          ? NO_LAYOUT
          : t === null
            ? "unreadable date/time (expected dd/mm/yyyy HH:MM[:SS] or yyyy-mm-dd HH:MM[:SS])"
            : branchProblem !== null
              ? branchProblem
              : total === null
                ? `unreadable total in column ${TOTAL_AT[layout] + 1} (${layout} layout, payment in column ${PAYMENT_AT[layout] + 1})`
                : total > COLUMN_LIMITS.maxAmountPence
                  ? "total over 99,999,999.99"
                  : readBasket(f[3]!, layout, items, basketItems);
      if (problem !== null) {
        basketItems.length = itemStart[count]!;
        rejects.push({ line: at, reason: problem });
        continue;
      }
      lastBranch = f[1]!;
      line[count] = at;
      time.push(t!);
      branch.push(f[1]!);
      payment.push(pay!);
      totalPence[count] = total!;
      customerName.push(f[2]!);
      cardNumber.push(f[6]!);
      itemStart[++count] = basketItems.length;
    }
    return {
      count,
      line: line.subarray(0, count),
      time,
      branch,
      payment,
      totalPence: totalPence.subarray(0, count),
      itemStart: itemStart.subarray(0, count + 1),
      items: basketItems,
      customerName,
      cardNumber,
      rejects: mergeByLine(records.rejects, rejects),
    };
  };
}

/** Appends a row's basket items to `out`; a string says what is wrong. */
function readBasket(basket: string, variant: Variant, cache: Map<string, Item | string>, out: Item[]): string | null {
  if (basket === "") return "empty basket";
  const before = out.length;
  const problem = variant === "canonical" ? readCanonicalBasket(basket, cache, out) : readLegacyBasket(basket, out);
  return problem === null && out.length === before ? "empty basket" : problem;
}

/** Two line-ordered lists of rejects as one. */
function mergeByLine(a: Reject[], b: Reject[]): Reject[] {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  return [...a, ...b].sort((x, y) => x.line - y.line);
}
