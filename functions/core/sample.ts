// Realistic canonical raw files (docs/design.md §3) for demos, fixtures, tests and the benchmark:
// the real menu, branches, opening hours and basket sizes seen in the chains' files, and
// made-up customers. The same options always give the same bytes.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { formatPence, parsePence } from "./rules.js";

export interface SampleOptions {
  /** Sales in the file (default: a typical day for the branch and weekday, about 400). */
  rows?: number;
  seed?: string | number;
  branch?: string;
  /** Trading day, `YYYY-MM-DD`. */
  date?: string;
}

type Priced = [regular: number, large: number];
const MENU: Array<[product: string, flavours: string[], prices: Priced]> = [
  ["Americano", [], [195, 225]],
  ["Cappuccino", [], [215, 245]],
  ["Chai latte", [], [230, 260]],
  ["Espresso", [], [150, 180]],
  ["Filter coffee", [], [150, 180]],
  ["Flat white", [], [215, 245]],
  ["Flavoured iced latte", ["Caramel", "Hazelnut", "Vanilla"], [275, 325]],
  ["Flavoured latte", ["Caramel", "Gingerbread", "Hazelnut", "Vanilla"], [255, 285]],
  ["Frappes", ["Chocolate Cookie", "Coffee", "Strawberries & Cream"], [275, 325]],
  ["Hot chocolate", [], [220, 290]],
  ["Iced americano", [], [215, 250]],
  ["Iced latte", [], [235, 285]],
  ["Latte", [], [215, 245]],
  ["Mocha", [], [230, 270]],
  ["Smoothies", ["Berry Beautiful", "Carrot Kick", "Glowing Greens"], [200, 250]],
  ["Speciality Tea", ["Camomile", "Darjeeling", "Earl Grey", "English breakfast", "Fruit", "Green", "Peppermint"], [130, 160]],
];
/** Leeds sells its own `Hot Chocolate` at other prices: a different product (names are case-sensitive). */
const LEEDS_HOT_CHOCOLATE: [string, string[], Priced] = ["Hot Chocolate", [], [140, 170]];

/** Branches with their opening hours and a typical day's sales. */
export const SAMPLE_BRANCHES: Record<string, { open: number; close: number; sales: number }> = {
  Chesterfield: { open: 9, close: 17, sales: 270 },
  Leeds: { open: 9, close: 17, sales: 380 },
  "London Brixton": { open: 8, close: 21, sales: 530 },
  "Newcastle upon Tyne": { open: 8, close: 21, sales: 390 },
  "Isle of Wight": { open: 9, close: 17, sales: 480 },
  "Southend-on-Sea": { open: 8, close: 18, sales: 350 },
};

const FIRST = [
  "Amelia",
  "Oliver",
  "Isla",
  "George",
  "Ava",
  "Noah",
  "Mia",
  "Arthur",
  "Ivy",
  "Leo",
  "Freya",
  "Oscar",
  "Lily",
  "Harry",
  "Grace",
  "Jack",
  "Sophie",
  "Charlie",
  "Evie",
  "Thomas",
  "Ruby",
  "Jacob",
  "Ella",
  "Alfie",
  "Rosie",
  "Henry",
  "Poppy",
  "William",
  "Florence",
  "James",
];
const LAST = [
  "Smith",
  "Jones",
  "Taylor",
  "Brown",
  "Williams",
  "Wilson",
  "Johnson",
  "Davies",
  "Patel",
  "Robinson",
  "Wright",
  "Thompson",
  "Evans",
  "Walker",
  "White",
  "Roberts",
  "Green",
  "Hall",
  "Thomas",
  "Clarke",
  "Jackson",
  "Wood",
  "Harris",
  "Edwards",
  "Turner",
  "Martin",
  "Cooper",
  "Hill",
  "Ward",
  "Hughes",
];
/** Basket sizes 1..6 weighted as in the real files. */
const BASKET_WEIGHTS = [25, 24, 20, 15, 10, 6];

/** mulberry32: a small, fast, seedable generator; plenty for made-up data. */
function random(seed: string): () => number {
  let a = createHash("sha256").update(seed).digest().readUInt32LE(0);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function sampleFileName(branch: string, date: string, openHour: number): string {
  const [y, m, d] = date.split("-");
  return `${branch.toLowerCase().replace(/[^a-z0-9]+/g, "_")}_${d}-${m}-${y}_${String(openHour).padStart(2, "0")}-00-00.csv`;
}

/** A week's shape (Monday first): quieter early in the week and on Sundays, busiest on Saturdays. */
const WEEKDAY_FACTOR = [0.86, 0.9, 0.95, 1.0, 1.14, 1.3, 0.85];

/** A day's shape by hour: a breakfast rush, a lunch peak and an afternoon lull, as tills see them. */
const dayShape = (hour: number): number =>
  0.55 + 2.2 * Math.exp(-(((hour - 8.6) / 0.9) ** 2)) + 1.7 * Math.exp(-(((hour - 12.8) / 0.8) ** 2)) + 0.5 * Math.exp(-(((hour - 15.8) / 1.0) ** 2));

/** A typical day's sales: the branch's usual count, shaped by the weekday and a seeded wobble of ±8%. */
function typicalSales(usual: number, date: string, seed: string): number {
  const dow = (new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7;
  return Math.max(1, Math.round(usual * WEEKDAY_FACTOR[dow]! * (0.92 + 0.16 * random(`${seed}|${date}|day`)())));
}

export function resolveSampleOptions(options: SampleOptions) {
  const branch = options.branch ?? "Chesterfield";
  const date = options.date ?? "2021-08-25";
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) {
    throw new Error(`--date must be YYYY-MM-DD, got ${JSON.stringify(date)}`);
  }
  const hours = SAMPLE_BRANCHES[branch] ?? { open: 9, close: 17, sales: 400 };
  const seed = String(options.seed ?? 1);
  const rows = options.rows ?? typicalSales(hours.sales, date, `${seed}|${branch}`);
  if (!Number.isSafeInteger(rows) || rows < 1) throw new Error(`--rows must be a positive whole number, got ${rows}`);
  return { branch, date, rows, seed, hours };
}

/** The lines of a canonical raw file, yielded in chunks of about 64 KB. */
export function* sampleChunks(options: SampleOptions): Generator<string> {
  const { branch, date, rows, seed, hours } = resolveSampleOptions(options);
  const next = random(`${seed}|${branch}|${date}|${rows}`);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const menu = branch === "Leeds" ? [...MENU.filter(([p]) => p !== "Hot chocolate"), LEEDS_HOT_CHOCOLATE] : MENU;
  const [y, m, d] = date.split("-");
  const day = `${d}/${m}/${y}`;
  const minutes = (hours.close - hours.open) * 60;
  const totalWeight = BASKET_WEIGHTS.reduce((a, b) => a + b, 0);

  // Sale i is rung up at the (i + ½)/rows quantile of the day's shape: busy hours hold more sales.
  const cumulative = new Float64Array(minutes + 1);
  for (let m = 0; m < minutes; m++) cumulative[m + 1] = cumulative[m]! + dayShape(hours.open + (m + 0.5) / 60);
  let at = 0;
  let chunk = "";
  for (let i = 0; i < rows; i++) {
    const target = ((i + 0.5) / rows) * cumulative[minutes]!;
    while (at < minutes - 1 && cumulative[at + 1]! < target) at++;
    const minute = hours.open * 60 + at;
    const time = `${day} ${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;
    let w = next() * totalWeight;
    let size = 1;
    while (size < BASKET_WEIGHTS.length && (w -= BASKET_WEIGHTS[size - 1]!) > 0) size++;
    const items: string[] = [];
    let total = 0;
    for (let k = 0; k < size; k++) {
      // About a quarter of baskets repeat an item, as in the real files.
      if (k > 0 && next() < 0.12) {
        const again = items[Math.floor(next() * items.length)]!;
        items.push(again);
        total += parsePence(again.slice(again.lastIndexOf(" - ") + 3))!;
        continue;
      }
      const [product, flavours, prices] = pick(menu);
      const large = next() < 0.45;
      const price = prices[large ? 1 : 0];
      const flavour = flavours.length ? ` - ${pick(flavours)}` : "";
      items.push(`${large ? "Large" : "Regular"} ${product}${flavour} - ${formatPence(price)}`);
      total += price;
    }
    const card = next() < 0.7;
    const cardNumber = card ? `${4 + Math.floor(next() * 2)}${String(Math.floor(next() * 1e15)).padStart(15, "0")}` : "";
    const basket = items.length > 1 ? `"${items.join(", ")}"` : items[0]!;
    // Totals as the tills write them: no trailing zeros (`5.2`, `4`).
    const totalText = formatPence(total).replace(/\.?0+$/, "");
    chunk += `${time},${branch},${pick(FIRST)} ${pick(LAST)},${basket},${totalText},${card ? "CARD" : "CASH"},${cardNumber}\n`;
    if (chunk.length >= 65536) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk) yield chunk;
}

export function generateSample(options: SampleOptions): Readable {
  return Readable.from(sampleChunks(options), { objectMode: false });
}
