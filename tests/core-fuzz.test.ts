// Seeded fuzz of the line-contained transform, loaded for real (issue 11): 200 mutated copies of
// the project's fixtures, each with ONE damaged line (a stray quote, NUL, invalid UTF-8, a changed
// or inserted line end, a lost or extra comma, an over-long value or line, ...). Each copy gets
// its own branch names, so its sales are its own in the warehouse. Invariants per copy:
//   rows_read = new + duplicates + rejected = the copy's non-blank data lines;
//   every undamaged line's sale is in the warehouse (same id as in the undamaged copy);
//   nothing is rejected but the damaged line(s) and the lines the fixture itself rejects.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadManifest } from "../functions/app/load-manifests.js";
import { FolderStorage } from "../functions/local/folder-storage.js";
import { PostgresWarehouse } from "../functions/local/postgres-warehouse.js";
import { FIXTURES, ROOT, csvRows, tempDir, transformObject, transformText } from "./helpers.js";

const COPIES = 200;
const SEED = Number(process.env.COFFEETL_FUZZ_SEED ?? 20261201);
const SECRET = "fuzz-secret";

/** Fixtures mutated, and whether their first line is a header. */
const SOURCES: Array<[path: string, header: boolean]> = [
  [join(FIXTURES, "canonical.csv"), false],
  [join(FIXTURES, "legacy_crlf.csv"), false],
  [join(FIXTURES, "excel_resaved.csv"), false],
  [join(FIXTURES, "header_bom.csv"), true],
  [join(FIXTURES, "padded.csv"), false],
  [join(FIXTURES, "broken_rows.csv"), false],
  [join(ROOT, "tests/fixtures/damaged/base.csv"), false],
  [join(ROOT, "tests/fixtures/damaged/mixed_layouts.csv"), false],
  [join(ROOT, "tests/fixtures/damaged/canonical_iso.csv"), false],
  [join(ROOT, "tests/fixtures/damaged/legacy_day_first.csv"), false],
];

/** mulberry32, seeded: the same copies on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Line {
  content: Buffer;
  end: Buffer;
}

/** The test's own line splitter (LF, CRLF, lone CR), independent of the transform's. */
function splitLines(bytes: Buffer): Line[] {
  const lines: Line[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b !== 10 && b !== 13) continue;
    const endLength = b === 13 && bytes[i + 1] === 10 ? 2 : 1;
    lines.push({ content: bytes.subarray(start, i), end: bytes.subarray(i, i + endLength) });
    i += endLength - 1;
    start = i + 1;
  }
  if (start < bytes.length) lines.push({ content: bytes.subarray(start), end: Buffer.alloc(0) });
  return lines;
}

const join_ = (lines: Line[]) => Buffer.concat(lines.flatMap((l) => [l.content, l.end]));
/** A blank line: nothing but spaces and commas (what csv-parse reads as all-empty fields). */
const isBlank = (content: Buffer) => /^[\s,]*$/.test(content.toString("latin1"));

type Mutation = (line: Line, pick: (n: number) => number) => Line[];
const at = (content: Buffer, pick: (n: number) => number) => pick(content.length + 1);
const insert = (content: Buffer, pos: number, bytes: Buffer | string) =>
  Buffer.concat([content.subarray(0, pos), Buffer.from(bytes as string), content.subarray(pos)]);
const MUTATIONS: Record<string, Mutation> = {
  quote: (l, pick) => [{ ...l, content: insert(l.content, at(l.content, pick), '"') }],
  nul: (l, pick) => [{ ...l, content: insert(l.content, at(l.content, pick), "\u0000") }],
  invalidUtf8: (l, pick) => [{ ...l, content: insert(l.content, at(l.content, pick), Buffer.from([[0xff], [0xc3], [0xe2, 0x82]][pick(3)]!)) }],
  lineEnd: (l, pick) => [{ ...l, end: Buffer.from(["\r\n", "\n", "\r"][pick(3)]!) }],
  lineBreakInside: (l, pick) => {
    const pos = at(l.content, pick);
    return [
      { content: l.content.subarray(0, pos), end: Buffer.from(["\r\n", "\n", "\r"][pick(3)]!) },
      { content: l.content.subarray(pos), end: l.end },
    ];
  },
  deleteByte: (l, pick) => {
    const pos = pick(l.content.length);
    return [{ ...l, content: Buffer.concat([l.content.subarray(0, pos), l.content.subarray(pos + 1)]) }];
  },
  deleteComma: (l, pick) => {
    const commas = [...l.content.keys()].filter((i) => l.content[i] === 44);
    const pos = commas[pick(commas.length)]!;
    return [{ ...l, content: Buffer.concat([l.content.subarray(0, pos), l.content.subarray(pos + 1)]) }];
  },
  extraComma: (l, pick) => [{ ...l, content: insert(l.content, at(l.content, pick), ",") }],
  replaceByte: (l, pick) => {
    const content = Buffer.from(l.content);
    content[pick(content.length)] = 32 + pick(95);
    return [{ ...l, content }];
  },
  truncate: (l, pick) => [{ ...l, content: l.content.subarray(0, pick(l.content.length)) }],
  multibyte: (l, pick) => [{ ...l, content: insert(l.content, at(l.content, pick), ["é", "€", "😀", "\u00a0"][pick(4)]!) }],
  longProduct: (l) => [
    {
      ...l,
      content: Buffer.from(
        l.content
          .toString("latin1")
          .replace(
            /(Regular |Large |,)(Latte|Mocha|Chai latte|Hot chocolate|Americano|Filter coffee|Flavoured iced latte|Speciality Tea|Smoothies)/,
            `$1${"Oat ".repeat(33)}$2`,
          ),
        "latin1",
      ),
    },
  ],
  longLine: (l, pick) => [{ ...l, content: insert(l.content, at(l.content, pick), "x".repeat(17_000 + pick(40_000))) }],
  spaces: (l, pick) => {
    const commas = [...l.content.keys()].filter((i) => l.content[i] === 44);
    return [{ ...l, content: insert(l.content, commas[pick(commas.length)]!, "   ") }];
  },
};

interface Copy {
  key: string;
  what: string;
  bytes: Buffer;
  dataLines: number;
  /** Ids that must be in the warehouse: the undamaged lines' sales. */
  mustLoad: string[];
  /** Line numbers that may be rejected: the damaged line(s) and those the fixture rejects itself. */
  mayReject: Set<number>;
  /** Lines the undamaged fixture rejects itself. */
  ownRejects: number;
}

/** One mutated copy of a fixture, with what the transform of its undamaged twin says it must load. */
async function makeCopy(n: number, next: () => number): Promise<Copy> {
  const pick = (k: number) => Math.floor(next() * k);
  const [path, header] = SOURCES[pick(SOURCES.length)]!;
  // Branch names of its own: this copy's sales are new to the warehouse.
  const own = Buffer.from(readFileSync(path, "latin1").replace(/(Kendal|Isle of Wight)/g, `$1 ${n}`), "latin1");
  const lines = splitLines(own);
  const dataIndex = lines.map((_, i) => i).filter((i) => !(header && i === 0) && !isBlank(lines[i]!.content));

  // The undamaged twin: which line holds which sale (ids come in line order; rejects have their lines).
  const twin = await transformText(own, SECRET);
  const rejectedLines = new Set(csvRows(twin.files.rejects).map((r) => Number(r.line_number)));
  const ids = csvRows(twin.files.transactions).map((s) => s.transaction_id!);
  const saleLines = dataIndex.filter((i) => !rejectedLines.has(i + 1));
  assert.is(ids.length, saleLines.length, `${path}: one sale per readable line`);
  const idOfLine = new Map(saleLines.map((i, k) => [i, ids[k]!]));

  const names = Object.keys(MUTATIONS);
  const name = names[pick(names.length)]!;
  const target = dataIndex[pick(dataIndex.length)]!;
  const damaged = MUTATIONS[name]!(lines[target]!, pick);
  const mutated = [...lines.slice(0, target), ...damaged, ...lines.slice(target + 1)];
  const shift = damaged.length - 1;
  const bytes = join_(mutated);

  // Identical lines share a sale's content: if the damaged one goes, the last of them loses its id.
  const twins = dataIndex.filter((i) => lines[i]!.content.equals(lines[target]!.content));
  const lost = idOfLine.get(twins[twins.length - 1]!);
  const mustLoad = saleLines
    .filter((i) => i !== target)
    .map((i) => idOfLine.get(i)!)
    .filter((id) => id !== lost);
  const mayReject = new Set([...rejectedLines].map((line) => (line - 1 > target ? line + shift : line)));
  for (let k = 0; k < damaged.length; k++) mayReject.add(target + 1 + k);
  const dataLines = mutated.filter((l, i) => !(header && i === 0) && !isBlank(l.content)).length;
  const key = `fuzz/${String(n).padStart(3, "0")}.csv`;
  const what = `copy ${n} of ${path.split("/").pop()}: ${name} on line ${target + 1}`;
  return { key, what, bytes, dataLines, mustLoad, mayReject, ownRejects: rejectedLines.size - (rejectedLines.has(target + 1) ? 1 : 0) };
}

test(`${COPIES} mutated fixtures (seed ${SEED}), one damaged line each: counts add up and every undamaged sale is loaded`, async () => {
  const home = await tempDir();
  const raw = new FolderStorage(join(home.path, "raw"));
  const transformed = new FolderStorage(join(home.path, "transformed"));
  const warehouse = await PostgresWarehouse.open({});
  try {
    await warehouse.ensureSchema();
    const next = random(SEED);
    const kinds = new Map<string, number>();
    let rejectedCopies = 0;
    for (let n = 0; n < COPIES; n++) {
      const copy = await makeCopy(n, next);
      const kind = copy.what.split(": ")[1]!.split(" ")[0]!;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      await raw.put(copy.key, Readable.from([copy.bytes]));
      const outcome = await transformObject({ raw, transformed, transactionIdKey: SECRET, workers: 0 }, copy.key);
      const load = await loadManifest({ transformed, warehouse }, outcome.manifestKey);
      const counts = [load.rowsRead, load.transactionsNew + load.transactionsDuplicate + load.rowsRejected];
      assert.equal(counts, [copy.dataLines, copy.dataLines], `${copy.what}: rows read, new + duplicates + rejected`);
      const rejects = csvRows(await text((await transformed.get(`${outcome.prefix}/rejects.csv`)).body));
      for (const r of rejects) assert.ok(copy.mayReject.has(Number(r.line_number)), `${copy.what}: line ${r.line_number} rejected (${r.reason})`);
      if (rejects.length > copy.ownRejects) rejectedCopies++;
      const found = await warehouse.query<{ transaction_id: string }>(`SELECT transaction_id FROM transactions WHERE source_key = '${copy.key}'`);
      const inWarehouse = new Set(found.map((r) => r.transaction_id));
      const missing = copy.mustLoad.filter((id) => !inWarehouse.has(id));
      assert.equal(missing, [], `${copy.what}: undamaged sales missing from the warehouse`);
    }
    console.log(`fuzz: ${COPIES} copies, ${rejectedCopies} with the damaged line rejected; ${[...kinds].map(([k, v]) => `${k} ${v}`).join(", ")}`);
    // The campaign exercised the damage it claims to (seeded, so these hold run after run).
    assert.ok(kinds.size >= 12, `mutation kinds used: ${[...kinds.keys()].join(", ")}`);
    assert.ok(rejectedCopies >= COPIES / 4, `copies with a rejected line: ${rejectedCopies}`);
  } finally {
    await warehouse.close();
    await home.remove();
  }
});

test.run();
