// Windows-1252 and UTF-16 exports (what Excel on Windows saves): decoded to the same sales as the
// UTF-8 file, with the encoding named; through the transform core and through `coffeetl ingest`.
// Damage stays damage: a UTF-8 file with one bad byte still rejects that line alone.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { detectEncoding } from "../functions/core/encoding.js";
import { UnreadableFileError } from "../functions/core/errors.js";
import { ROOT, fixture, runCoffeetlSync, tempDir, transformText } from "./helpers.js";

// The canonical fixture with accented branch, customer and product names, CRLF as Windows writes.
const UTF8 = readFileSync(fixture("canonical.csv"), "utf8")
  .replace(/Kendal/g, "Café Crème Kendal")
  .replace(/Zebedee Quixote/g, "José Müller")
  .replace(/Hot chocolate/g, "Chocolat chaud à l'orange")
  .replace(/\r?\n/g, "\r\n");
const bytes = (text: string, encoding: "windows-1252" | "utf-16le" | "utf-16be", bom = false): Buffer => {
  if (encoding === "windows-1252") {
    // Every character used here is in Latin-1, where Windows-1252 agrees with Unicode.
    // eslint-disable-next-line no-control-regex -- the whole Latin-1 range, control characters included
    assert.ok(/^[\x00-\xff]*$/.test(text));
    return Buffer.from(text, "latin1");
  }
  const le = Buffer.from((bom ? "\ufeff" : "") + text, "utf16le");
  return encoding === "utf-16le" ? le : Buffer.from(le).swap16();
};

test("fixture: accented names, and they are not valid UTF-8 in Windows-1252", () => {
  assert.match(UTF8, /Café Crème Kendal/);
  assert.ok(!bytes(UTF8, "windows-1252").equals(Buffer.from(UTF8)));
  assert.ok(!new TextDecoder("utf-8", { fatal: false }).decode(bytes(UTF8, "windows-1252")).includes("Café"));
});

test("Windows-1252, UTF-16 with and without a byte-order mark: the same sales, ids and names as the UTF-8 file", async () => {
  const expected = await transformText(UTF8);
  assert.is(expected.summary.rejected, 0);
  assert.is(expected.summary.encoding, undefined);
  assert.match(expected.files.branches, /Café Crème Kendal/);
  assert.match(expected.files.products, /Chocolat chaud à l'orange/);
  const cases = [
    ["windows-1252", bytes(UTF8, "windows-1252")],
    ["utf-16le", bytes(UTF8, "utf-16le", true)],
    ["utf-16be", bytes(UTF8, "utf-16be", true)],
    ["utf-16le", bytes(UTF8, "utf-16le", false)],
  ] as const;
  for (const [encoding, input] of cases) {
    // Small chunks: characters and UTF-16 code units split across pieces and chunks.
    for (const chunkBytes of [256 * 1024, 333]) {
      const got = await transformText(input, undefined, undefined, { chunkBytes });
      assert.is(got.summary.encoding, encoding, `${encoding} detected`);
      assert.is(got.summary.rejected, 0, `${encoding}: ${got.files.rejects}`);
      assert.equal(got.files, expected.files, `${encoding}, ${chunkBytes}-byte chunks: outputs identical to the UTF-8 file's`);
    }
  }
});

test("a Windows-1252 file larger than the detection window decodes its later accents too", async () => {
  const lines = UTF8.trimEnd().split("\r\n");
  const many = Array.from({ length: 600 }, (_, i) => lines[i % lines.length]!).join("\r\n") + "\r\n";
  assert.ok(Buffer.byteLength(many) > 64 * 1024);
  const got = await transformText(bytes(many, "windows-1252"));
  const expected = await transformText(many);
  assert.is(got.summary.encoding, "windows-1252");
  assert.is(got.summary.rejected, 0);
  assert.equal(got.files, expected.files);
});

test("damage is not an encoding: a UTF-8 file's bad byte, or an 0xFF, still rejects that line alone", async () => {
  const lines = UTF8.split("\r\n");
  // A UTF-8 file with accents and one byte of damage: UTF-8, line 4 rejected.
  const damaged = Buffer.concat([Buffer.from(lines.slice(0, 3).join("\r\n") + "\r\n"), Buffer.from([0x8f]), Buffer.from(lines.slice(3).join("\r\n"))]);
  assert.is(detectEncoding(damaged, true), "utf-8");
  const got = await transformText(damaged);
  assert.is(got.summary.encoding, undefined);
  assert.is(got.summary.rejected, 1);
  assert.match(got.files.rejects, /^line_number,reason\n4,not valid UTF-8 text/);
  // The damage fixture's lone 0xFF in an otherwise ASCII file.
  assert.is(detectEncoding(readFileSync(join(ROOT, "tests/fixtures/damaged/invalid_utf8.csv")), true), "utf-8");
  // A window that ends inside a UTF-8 character is still UTF-8.
  const cut = Buffer.from(UTF8);
  const inside = cut.indexOf(Buffer.from("é")) + 1;
  assert.is(detectEncoding(cut.subarray(0, inside), false), "utf-8");
});

test("a UTF-16 file that is not comma-separated (Excel's 'Unicode Text' is tab-separated) is refused saying what it is and how to save it", async () => {
  const tabbed = UTF8.replace(/,/g, "\t");
  await transformText(bytes(tabbed, "utf-16le", true)).then(
    () => assert.unreachable("a tab-separated file has no readable sale"),
    (error: Error) => {
      assert.instance(error, UnreadableFileError);
      assert.match(error.message, /read as UTF-16 \(little-endian\); save it as "CSV UTF-8 \(Comma delimited\)" in Excel/);
    },
  );
});

test("`coffeetl ingest` of a Windows-1252 and a UTF-16 export: loaded, one warning line naming the encoding, names intact in the warehouse", async () => {
  const dir = await tempDir();
  try {
    const home = join(dir.path, "home");
    writeFileSync(join(dir.path, "cafe-1252.csv"), bytes(UTF8, "windows-1252"));
    writeFileSync(join(dir.path, "cafe-utf16.csv"), bytes(UTF8.replace(/01\/03\/2024/g, "02/03/2024"), "utf-16le", true));
    const run = (...args: string[]) => runCoffeetlSync([...args, "--home", home]);
    const ingest = run("ingest", dir.path);
    assert.is(ingest.status, 0, ingest.stdout + ingest.stderr);
    assert.match(ingest.stdout, /✔ .*cafe-1252\.csv: \d+ rows read, \d+ sales new, 0 duplicates, 0 rejected/);
    assert.match(
      ingest.stdout,
      /cafe-1252\.csv.*\n {2}warning: the file is Windows-1252 text, not UTF-8: decoded as such; to avoid this, save it as "CSV UTF-8/,
    );
    assert.match(ingest.stdout, /cafe-utf16\.csv.*\n {2}warning: the file is UTF-16 \(little-endian\) text, not UTF-8/);
    const sql = run("sql", "SELECT DISTINCT branch_name FROM branches ORDER BY 1", "--json");
    assert.is(sql.status, 0, sql.stderr);
    assert.equal(JSON.parse(sql.stdout), [{ branch_name: "Café Crème Kendal" }]);
    const products = run("sql", "SELECT COUNT(*) AS n FROM products WHERE product_name = 'Chocolat chaud à l''orange'", "--json");
    assert.ok(Number(JSON.parse(products.stdout)[0].n) >= 1, products.stdout);
  } finally {
    await dir.remove();
  }
});

test.run();
