// The transform's business rules (docs/design.md §3), read top to bottom: what a raw line is, how
// its layout is recognised, how dates, money, baskets and branches are read, why a line is rejected,
// and what the normal forms hold. What identifies a sale is in sale-identity.ts; how files are cut,
// parsed in bulk and written (fast, in flat memory) is the engine's business (engine/README.md).
// Every value is checked against its warehouse column's limits (schema.ts), so no load fails on it.
import { branchCheck } from "./branches.js";
import { COLUMN_LIMITS } from "./schema.js";

export type Size = "Regular" | "Large";
export type PaymentMethod = "CASH" | "CARD";

/** A basket item as sold. Immutable: the reader hands out one object for equal item texts. */
export interface Item {
  /** `null` when the file does not say (legacy rows with an empty size): unknown, never guessed. */
  size: Size | null;
  product: string;
  flavour: string | null;
  pricePence: number;
}

/** A row that could not be read: its line and why, never its content. */
export interface Reject {
  line: number;
  reason: string;
}

/** Bound on per-file caches keyed by distinct items or times (a real menu has under a hundred items). */
export const ITEM_CACHE_LIMIT = 10_000;

// ── 1. A line ───────────────────────────────────────────────────────────────────────────────────

/** Real lines are 100-500 bytes; one longer than this is damage (and would hold up the keyed hash). */
export const MAX_LINE_BYTES = 16 * 1024;

/** Every sale line has seven fields, in either layout. */
export const COLUMN_COUNT = 7;

/** Fields that sit in the same place in both layouts (0-based). */
const TIME_AT = 0;
const BRANCH_AT = 1;
const CUSTOMER_AT = 2;
const BASKET_AT = 3;
const CARD_AT = 6;

// ── 2. Layout: canonical (2021+) or legacy (2020) ────────────────────────────────────────────────

/**
 * Canonical: time, branch, customer, basket of `<Size> <Product>[ - <Flavour>] - <price>` items,
 * total, payment, card. Legacy: time, branch, customer, basket of `size,product,price` triplets,
 * payment, total, card. Either may carry either date style.
 */
export type Layout = "canonical" | "legacy";

/** Column (0-based) of the payment method and of the total in each layout: the two swap places. */
const PAYMENT_AT: Record<Layout, number> = { canonical: 5, legacy: 4 };
const TOTAL_AT: Record<Layout, number> = { canonical: 4, legacy: 5 };
const OTHER: Record<Layout, Layout> = { canonical: "legacy", legacy: "canonical" };
const NO_LAYOUT = "unknown payment method: expected CASH or CARD in column 6 (canonical layout) or column 5 (legacy layout)";

/** `CASH` or `CARD`, in any case; anything else is no payment method. */
export function parsePayment(text: string): PaymentMethod | null {
  if (text === "CARD" || text === "CASH") return text;
  const upper = text.toUpperCase();
  return upper === "CASH" || upper === "CARD" ? upper : null;
}

/**
 * A line's layout is where its payment method is. It is tried first in the layout of the line
 * before (files rarely mix), then in the other; null when neither place holds one.
 */
export function layoutOf(fields: string[], previous: Layout): Layout | null {
  if (parsePayment(fields[PAYMENT_AT[previous]]!) !== null) return previous;
  return parsePayment(fields[PAYMENT_AT[OTHER[previous]]]!) === null ? null : OTHER[previous];
}

/** A header row: words where a sale has a date, and no payment method in either layout's place (a damaged sale keeps those). */
export const looksLikeHeader = (fields: string[]) =>
  fields.length === COLUMN_COUNT &&
  /[a-z]/i.test(fields[0]!) &&
  !/\d/.test(fields[0]!) &&
  parsePayment(fields[4]!) === null &&
  parsePayment(fields[5]!) === null;

// ── 3. Dates: day first, never `new Date(string)` ───────────────────────────────────────────────

const DAY_FIRST_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;
const ISO_DATE = /^(\d{4})-(\d{1,2})-(\d{1,2})$/;
const CLOCK = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/;
/** A till date before this is damage, and PostgreSQL has no year 0. */
const FIRST_YEAR = 1900;
const UNREADABLE_TIME = "unreadable date/time (expected dd/mm/yyyy HH:MM[:SS] or yyyy-mm-dd HH:MM[:SS])";

const pad = (n: number) => (n < 10 ? `0${n}` : String(n));

/** A calendar date that exists (no 31 April, 29 February only in leap years). */
function isoDate(y: number, mo: number, d: number): string | null {
  if (y < FIRST_YEAR || mo < 1 || mo > 12 || d < 1) return null;
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return d > daysInMonth ? null : `${y}-${pad(mo)}-${pad(d)}`;
}

/** `dd/mm/yyyy` (also `d/m/yyyy`: British tills) or `yyyy-mm-dd`, told apart by their shape. */
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
 * in either layout → `YYYY-MM-DD HH:MM:SS`, naive local time (the till's).
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

// ── 4. Money: exact, integer pence, never through binary floats ─────────────────────────────────

/** Parses `4`, `2.3`, `10.90` (at most two decimals) to pence; `null` when it is not such a number. */
export function parsePence(text: string): number | null {
  const n = text.length;
  if (n === 0 || n > 12) return null;
  let pounds = 0;
  let i = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) break;
    if (c < 48 || c > 57) return null;
    pounds = pounds * 10 + (c - 48);
  }
  if (i === 0) return null;
  if (i === n) return pounds * 100;
  const decimals = n - i - 1;
  if (decimals < 1 || decimals > 2) return null;
  const d1 = text.charCodeAt(i + 1) - 48;
  const d2 = decimals === 2 ? text.charCodeAt(i + 2) - 48 : 0;
  if (d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return null;
  return pounds * 100 + d1 * 10 + d2;
}

/** Pence to the `DECIMAL(10,2)` text the warehouse loads, e.g. 705 → `7.05`. */
export function formatPence(pence: number): string {
  const pounds = Math.trunc(pence / 100);
  const rest = pence - pounds * 100;
  return `${pounds}.${rest < 10 ? "0" : ""}${rest}`;
}

/** Whether `text` fits a VARCHAR of `limit` bytes (UTF-8): at most 3 bytes per UTF-16 unit. */
export const fitsBytes = (text: string, limit: number): boolean => text.length * 3 <= limit || Buffer.byteLength(text) <= limit;

// ── 5. Branches ─────────────────────────────────────────────────────────────────────────────────

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
 * Why a branch name is refused, or null: empty, too long for its column, unshowable, or not one of
 * the uploader's branches (`allowed`, branches.ts).
 */
export function branchProblem(name: string, allowed?: (branch: string) => string | null): string | null {
  if (name === "") return "empty branch";
  if (!fitsBytes(name, COLUMN_LIMITS.branch_name)) return `branch name longer than ${COLUMN_LIMITS.branch_name} bytes`;
  return unshowable(name) ?? allowed?.(name) ?? null;
}

// ── 6. Basket items ─────────────────────────────────────────────────────────────────────────────

/** `Regular` or `Large`, in any case; undefined: not a size word. */
function parseSize(word: string): Size | null | undefined {
  const lower = word.toLowerCase();
  if (lower === "regular") return "Regular";
  if (lower === "large") return "Large";
  return undefined;
}

/** What is wrong with an item's names or price for the warehouse, or null. */
function itemProblem(product: string, flavour: string | null, pricePence: number): string | null {
  if (!fitsBytes(product, COLUMN_LIMITS.product_name)) return `has a product name longer than ${COLUMN_LIMITS.product_name} bytes`;
  if (flavour !== null && !fitsBytes(flavour, COLUMN_LIMITS.flavour)) return `has a flavour longer than ${COLUMN_LIMITS.flavour} bytes`;
  if (pricePence > COLUMN_LIMITS.maxAmountPence) return "has a price over 99,999,999.99";
  return null;
}

/** `Flavoured iced latte - Hazelnut` → product and flavour; the same rule for both layouts. */
function splitFlavour(name: string): { product: string; flavour: string | null } {
  const at = name.indexOf(" - ");
  if (at < 0) return { product: name.trim(), flavour: null };
  return { product: name.slice(0, at).trim(), flavour: name.slice(at + 3).trim() || null };
}

const CANONICAL_ITEM = "`<Size> <Product>[ - <Flavour>] - <price>`";

/** One canonical item, `<Size> <Product>[ - <Flavour>] - <price>` (the size may be missing); a string says what is wrong. */
export function parseCanonicalItem(text: string): Item | string {
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

/** Canonical basket: items joined by `, `, appended to `out`. Equal item texts share one Item (`cache`). */
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

/** Appends a row's basket items to `out` in its layout; a string says what is wrong. A sale has at least one item. */
function readBasket(basket: string, layout: Layout, cache: Map<string, Item | string>, out: Item[]): string | null {
  if (basket === "") return "empty basket";
  const before = out.length;
  const problem = layout === "canonical" ? readCanonicalBasket(basket, cache, out) : readLegacyBasket(basket, out);
  return problem === null && out.length === before ? "empty basket" : problem;
}

// ── 7. A sale row, or why it is rejected ────────────────────────────────────────────────────────

/** A readable sale row (reused between rows: copy what you keep). Its basket went to the caller's list. */
export interface SaleRow {
  time: string;
  branch: string;
  customerName: string;
  cardNumber: string;
  payment: PaymentMethod;
  totalPence: number;
}

export interface RowReaderOptions {
  /** Branches the file may hold (an uploader's, branches.ts); any when omitted. */
  branches?: readonly string[];
}

/**
 * The reader of one file's rows, in file order (a line's layout is guessed from the line before).
 * A row is rejected for the first of these it has: not seven fields; no payment method where
 * either layout has one; an unreadable time; a refused branch; an unreadable or too large total; an
 * empty or unreadable basket. A rejected row's items are not kept. A total that differs from its
 * items is no reason: the sale loads with the till's total and a warning (`totalDiffers`).
 */
export function rowReader(options: RowReaderOptions = {}) {
  const allowed = options.branches ? branchCheck(options.branches) : undefined;
  // Memos only (a file holds one trading day: a few hundred distinct times, a handful of branches).
  const items = new Map<string, Item | string>();
  const times = new Map<string, string | null>();
  const branches = new Map<string, string | null>();
  let lastBranch: string | undefined;
  let layout: Layout = "canonical";
  const row: SaleRow = { time: "", branch: "", customerName: "", cardNumber: "", payment: "CASH", totalPence: 0 };
  return function readRow(f: string[], basketOut: Item[]): SaleRow | string {
    if (f.length !== COLUMN_COUNT) return `expected ${COLUMN_COUNT} columns, found ${f.length}`;
    const found = layoutOf(f, layout);
    if (found !== null) layout = found;
    let time = times.get(f[TIME_AT]!);
    if (time === undefined) {
      time = parseTime(f[TIME_AT]!);
      if (times.size < ITEM_CACHE_LIMIT) times.set(f[TIME_AT]!, time);
    }
    const branch = f[BRANCH_AT]!;
    // Lines of a file mostly share their branch: check a name once.
    let refused = branch === lastBranch ? null : branches.get(branch);
    if (refused === undefined) {
      refused = branchProblem(branch, allowed);
      if (branches.size < ITEM_CACHE_LIMIT) branches.set(branch, refused);
    }
    const total = found === null ? null : parsePence(f[TOTAL_AT[layout]]!);
    const problem =
      found === null
        ? NO_LAYOUT
        : time === null
          ? UNREADABLE_TIME
          : refused !== null
            ? refused
            : total === null
              ? `unreadable total in column ${TOTAL_AT[layout] + 1} (${layout} layout, payment in column ${PAYMENT_AT[layout] + 1})`
              : total > COLUMN_LIMITS.maxAmountPence
                ? "total over 99,999,999.99"
                : readBasket(f[BASKET_AT]!, layout, items, basketOut);
    if (problem !== null) return problem;
    lastBranch = branch;
    row.time = time!;
    row.branch = branch;
    row.customerName = f[CUSTOMER_AT]!;
    row.cardNumber = f[CARD_AT]!;
    row.payment = parsePayment(f[PAYMENT_AT[layout]]!)!;
    row.totalPence = total!;
    return row;
  };
}

// ── 8. The normal forms (docs/design.md §5) ─────────────────────────────────────────────────────
// branches (branch_id, branch_name) and products (product_id, product_name, size, flavour): each
// once per file, when first met. transactions (transaction_id, branch_id, transaction_time,
// payment_method, total_amount, source_key): one row per readable line; customer name and card
// number are dropped once the id is made (sale-identity.ts). transaction_items (transaction_id,
// product_id, unit_price, quantity): one row per basket item, and repeated items of one basket
// become one row with a quantity (`sameItemRow`).

/** Two items of one basket are one item row (with a quantity) when product and unit price agree. */
export const sameItemRow = (productA: string, pricePenceA: number, productB: string, pricePenceB: number): boolean =>
  productA === productB && pricePenceA === pricePenceB;

/** The warning of a sale whose till total is not the sum of its items (loaded as the till says). */
export const TOTAL_DIFFERS = "total differs from the sum of its item prices (loaded with the till's total)";

/** Whether a sale loads with the `TOTAL_DIFFERS` warning. */
export const totalDiffers = (itemsPence: number, totalPence: number): boolean => itemsPence !== totalPence;
