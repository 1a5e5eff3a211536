// `parse`: CSV records of one raw file → typed sales (or rejects). Detects the file's variant
// (canonical 2021+, legacy 2020) from its first data row and tolerates the damage listed in
// DESIGN section 2. Dates are read with explicit day-first formats, never `new Date(string)`.
import { parsePence } from "./money.js";
import type { Item, PaymentMethod, RawSale, Reject, Size } from "./records.js";

/** A CSV record and the line it ends on, in the shape csv-parse delivers with `info: true`. */
export interface CsvRecord {
  record: string[];
  info: { lines: number };
}

export type Variant = "canonical" | "legacy";
const COLUMN_COUNT = 7;

const CANONICAL_TIME = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?$/;
const LEGACY_TIME = /^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$/;

const pad = (n: number) => (n < 10 ? `0${n}` : String(n));

function isoTime(y: number, mo: number, d: number, h: number, mi: number, s: number): string | null {
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return null;
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (d > daysInMonth) return null;
  return `${y}-${pad(mo)}-${pad(d)} ${pad(h)}:${pad(mi)}:${pad(s)}`;
}

/** `dd/mm/yyyy HH:MM[:SS]` (also `9/5/2023 9:00`) or `yyyy-mm-dd HH:MM[:SS]` → `YYYY-MM-DD HH:MM:SS`. */
export function parseTime(text: string, variant: Variant): string | null {
  if (variant === "canonical") {
    const m = CANONICAL_TIME.exec(text);
    return m ? isoTime(+m[3]!, +m[2]!, +m[1]!, +m[4]!, +m[5]!, m[6] ? +m[6] : 0) : null;
  }
  const m = LEGACY_TIME.exec(text);
  return m ? isoTime(+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, m[6] ? +m[6] : 0) : null;
}

function parsePayment(text: string): PaymentMethod | null {
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

/** Canonical basket: `<Size> <Product>[ - <Flavour>] - <price>` items joined by `, `. */
function parseCanonicalBasket(basket: string): Item[] | string {
  const parts = basket.split(",");
  const items: Item[] = [];
  for (let i = 0; i < parts.length; i++) {
    const text = parts[i]!.trim();
    if (text === "") continue;
    const at = text.lastIndexOf(" - ");
    if (at < 0) return `basket item ${i + 1} has no price`;
    const pricePence = parsePence(text.slice(at + 3).trim());
    if (pricePence === null) return `basket item ${i + 1} has an unreadable price`;
    const head = text.slice(0, at);
    const space = head.indexOf(" ");
    const size = space > 0 ? parseSize(head.slice(0, space)) : undefined;
    const name = size === undefined ? head : head.slice(space + 1);
    const { product, flavour } = splitFlavour(name);
    if (product === "") return `basket item ${i + 1} has no product name`;
    items.push({ size: size ?? null, product, flavour, pricePence });
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

const looksLikeHeader = (fields: string[]) => fields.length === COLUMN_COUNT && !/\d/.test(fields[0]!.charAt(0)) && /[a-z]/i.test(fields[0]!);

/**
 * Creates the `parse` step for one file. The variant is fixed by the first data row
 * (a `yyyy-` date means legacy); a header row, if any, must come first and is skipped.
 */
export function parse() {
  let variant: Variant | undefined;
  let first = true;
  return function* parseRecords(records: Iterable<CsvRecord>): Generator<RawSale | Reject> {
    for (const { record: fields, info } of records) {
      const line = info.lines;
      if (first) {
        first = false;
        if (looksLikeHeader(fields)) continue;
      }
      if (fields.length !== COLUMN_COUNT) {
        yield { kind: "reject", line, reason: `expected ${COLUMN_COUNT} columns, found ${fields.length}` };
        continue;
      }
      variant ??= /^\d{4}-/.test(fields[0]!) ? "legacy" : "canonical";
      yield parseRow(fields, line, variant);
    }
  };
}

function parseRow(f: string[], line: number, variant: Variant): RawSale | Reject {
  const reject = (reason: string): Reject => ({ kind: "reject", line, reason });
  const time = parseTime(f[0]!, variant);
  if (time === null) return reject(`unreadable date/time (expected ${variant === "canonical" ? "dd/mm/yyyy HH:MM" : "yyyy-mm-dd HH:MM:SS"})`);
  const branch = f[1]!;
  if (branch === "") return reject("empty branch");
  // Canonical puts total before payment; legacy puts payment before total.
  const [totalText, paymentText] = variant === "canonical" ? [f[4]!, f[5]!] : [f[5]!, f[4]!];
  const payment = parsePayment(paymentText);
  if (payment === null) return reject("unknown payment method (expected CASH or CARD)");
  const totalPence = parsePence(totalText);
  if (totalPence === null) return reject("unreadable total");
  const basket = f[3]!;
  if (basket === "") return reject("empty basket");
  const items = variant === "canonical" ? parseCanonicalBasket(basket) : parseLegacyBasket(basket);
  if (typeof items === "string") return reject(items);
  if (items.length === 0) return reject("empty basket");
  return { kind: "sale", line, time, branch, customerName: f[2]!, cardNumber: f[6]!, items, totalPence, payment };
}
