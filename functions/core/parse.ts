// `parse`: CSV records of one raw file → typed sales (or rejects). Detects the file's variant
// (canonical 2021+, legacy 2020) from its first data row and tolerates the damage listed in
// DESIGN section 2. Dates are read with explicit day-first formats, never `new Date(string)`.
import { parsePence } from "./money.js";
import type { Item, PaymentMethod, RawSale, Reject, Size } from "./records.js";

/** A CSV record and the line it ends on. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

export type Variant = "canonical" | "legacy";
const COLUMN_COUNT = 7;
/** Distinct item texts remembered per file (a real menu has under a hundred). */
const ITEM_CACHE_LIMIT = 10_000;

const CANONICAL_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;
const LEGACY_DATE = /^(\d{4})-(\d{1,2})-(\d{1,2})$/;
const CLOCK = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/;

const pad = (n: number) => (n < 10 ? `0${n}` : String(n));

function isoDate(y: number, mo: number, d: number): string | null {
  if (mo < 1 || mo > 12 || d < 1) return null;
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return d > daysInMonth ? null : `${y}-${pad(mo)}-${pad(d)}`;
}

// A file holds one trading day: remember the last date read, so each row only reads its clock.
let lastDate = { text: "", variant: "canonical" as Variant, iso: null as string | null };

function parseDate(text: string, variant: Variant): string | null {
  if (text === lastDate.text && variant === lastDate.variant) return lastDate.iso;
  const m = (variant === "canonical" ? CANONICAL_DATE : LEGACY_DATE).exec(text);
  const iso = !m ? null : variant === "canonical" ? isoDate(+m[3]!, +m[2]!, +m[1]!) : isoDate(+m[1]!, +m[2]!, +m[3]!);
  lastDate = { text, variant, iso };
  return iso;
}

/** `dd/mm/yyyy HH:MM[:SS]` (also `9/5/2023 9:00`) or `yyyy-mm-dd HH:MM[:SS]` → `YYYY-MM-DD HH:MM:SS`. */
export function parseTime(text: string, variant: Variant): string | null {
  let at = text.indexOf(" ");
  if (at < 0 && variant === "legacy") at = text.indexOf("T");
  if (at < 0) return null;
  const date = parseDate(text.slice(0, at), variant);
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

/** `Flavoured iced latte - Hazelnut` → product and flavour; the same rule for both variants. */
function splitFlavour(name: string): { product: string; flavour: string | null } {
  const at = name.indexOf(" - ");
  if (at < 0) return { product: name.trim(), flavour: null };
  return { product: name.slice(0, at).trim(), flavour: name.slice(at + 3).trim() || null };
}

/** One canonical item, `<Size> <Product>[ - <Flavour>] - <price>`; a string says what is wrong. */
function parseCanonicalItem(text: string): Item | string {
  const at = text.lastIndexOf(" - ");
  if (at < 0) return "has no price";
  const pricePence = parsePence(text.slice(at + 3).trim());
  if (pricePence === null) return "has an unreadable price";
  const head = text.slice(0, at);
  const space = head.indexOf(" ");
  const size = space > 0 ? parseSize(head.slice(0, space)) : undefined;
  const name = size === undefined ? head : head.slice(space + 1);
  const { product, flavour } = splitFlavour(name);
  if (product === "") return "has no product name";
  return { size: size ?? null, product, flavour, pricePence };
}

/** Canonical basket: items joined by `, `. Equal item texts share one (immutable) Item. */
function parseCanonicalBasket(basket: string, cache: Map<string, Item | string>): Item[] | string {
  const parts = basket.split(",");
  const items: Item[] = [];
  for (let i = 0; i < parts.length; i++) {
    const text = parts[i]!.trim();
    if (text === "") continue;
    let item = cache.get(text);
    if (item === undefined) {
      item = parseCanonicalItem(text);
      if (cache.size < ITEM_CACHE_LIMIT) cache.set(text, item);
    }
    if (typeof item === "string") return `basket item ${i + 1} ${item}`;
    items.push(item);
  }
  return items;
}

/** Legacy basket: flat `size,product,price` triplets; an empty size stays null. */
function parseLegacyBasket(basket: string): Item[] | string {
  const parts = basket.split(",");
  if (parts.length % 3 !== 0) return `basket has ${parts.length} fields, not size,product,price triplets`;
  const items: Item[] = [];
  for (let i = 0; i < parts.length; i += 3) {
    const n = i / 3 + 1;
    const sizeText = parts[i]!.trim();
    const size = sizeText === "" ? null : parseSize(sizeText);
    if (size === undefined) return `basket item ${n} has an unknown size`;
    const { product, flavour } = splitFlavour(parts[i + 1]!);
    if (product === "") return `basket item ${n} has no product name`;
    const pricePence = parsePence(parts[i + 2]!.trim());
    if (pricePence === null) return `basket item ${n} has an unreadable price`;
    items.push({ size, product, flavour, pricePence });
  }
  return items;
}

/** The variant a row's date shows: `yyyy-…` is the 2020 legacy format. */
export const variantOf = (dateField: string): Variant => (/^\d{4}-/.test(dateField) ? "legacy" : "canonical");

export const looksLikeHeader = (fields: string[]) => fields.length === COLUMN_COUNT && !/\d/.test(fields[0]!.charAt(0)) && /[a-z]/i.test(fields[0]!);

/**
 * Creates the `parse` step for one file (or one chunk of it). Unless given, the variant is fixed
 * by the first data row (a `yyyy-` date means legacy); a header row, if any, must come first
 * and is skipped.
 */
export function parse(options: { variant?: Variant | undefined; header?: boolean } = {}) {
  let variant = options.variant;
  let first = options.header ?? true;
  const items = new Map<string, Item | string>();
  const parseRecords = function* (records: Iterable<CsvRecord | Reject>): Generator<RawSale | Reject> {
    for (const record of records) {
      if ("kind" in record) {
        yield record;
        continue;
      }
      const { fields, line } = record;
      if (first) {
        first = false;
        if (looksLikeHeader(fields)) continue;
      }
      if (fields.length !== COLUMN_COUNT) {
        yield { kind: "reject", line, reason: `expected ${COLUMN_COUNT} columns, found ${fields.length}` };
        continue;
      }
      variant ??= variantOf(fields[0]!);
      const row = parseRow(fields, line, variant, items);
      if (row.kind === "sale") parseRecords.sales++;
      yield row;
    }
  };
  /** Readable sales seen so far. */
  parseRecords.sales = 0;
  return parseRecords;
}

const reject = (line: number, reason: string): Reject => ({ kind: "reject", line, reason });

function parseRow(f: string[], line: number, variant: Variant, cache: Map<string, Item | string>): RawSale | Reject {
  const time = parseTime(f[0]!, variant);
  if (time === null) return reject(line, `unreadable date/time (expected ${variant === "canonical" ? "dd/mm/yyyy HH:MM" : "yyyy-mm-dd HH:MM:SS"})`);
  const branch = f[1]!;
  if (branch === "") return reject(line, "empty branch");
  // Canonical puts total before payment; legacy puts payment before total.
  const [totalText, paymentText] = variant === "canonical" ? [f[4]!, f[5]!] : [f[5]!, f[4]!];
  const payment = parsePayment(paymentText);
  if (payment === null) return reject(line, "unknown payment method (expected CASH or CARD)");
  const totalPence = parsePence(totalText);
  if (totalPence === null) return reject(line, "unreadable total");
  const basket = f[3]!;
  if (basket === "") return reject(line, "empty basket");
  const items = variant === "canonical" ? parseCanonicalBasket(basket, cache) : parseLegacyBasket(basket);
  if (typeof items === "string") return reject(line, items);
  if (items.length === 0) return reject(line, "empty basket");
  return { kind: "sale", line, time, branch, customerName: f[2]!, cardNumber: f[6]!, items, totalPence, payment };
}
