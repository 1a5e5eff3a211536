// Numbering identical sales (functions/core/sale-identity.ts `Occurrences`): the n-th copy of a sale gets the
// n-th occurrence id, and finding it costs one keyed hash per copy, not one per earlier copy.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Occurrences, type OccurrenceId } from "../functions/core/sale-identity.js";

/** A stand-in keyed hash: the first id's first byte, then n in the next four bytes. Counts its calls. */
function countingKey(): { key: OccurrenceId; calls: () => number } {
  let calls = 0;
  const key: OccurrenceId = (first, at, n, out, outAt) => {
    calls++;
    out.fill(0, outAt, outAt + 16);
    out[outAt] = first[at]! ^ 0xff;
    new DataView(out.buffer, out.byteOffset).setUint32(outAt + 1, n);
  };
  return { key, calls: () => calls };
}

const id = (byte: number): Uint8Array => new Uint8Array(16).fill(byte);

test("identical sales are numbered 1, 2, 3, … in order, each with one keyed hash", () => {
  const { key, calls } = countingKey();
  const occurrences = new Occurrences(key);
  const copies = 2_000;
  const numbers: number[] = [];
  for (let i = 0; i < copies; i++) numbers.push(occurrences.number(id(7), 0));
  assert.equal(numbers.slice(0, 4), [1, 2, 3, 4]);
  assert.is(numbers.at(-1), copies);
  // Each copy after the first costs exactly one hash (a search from n = 2 each time cost ~2,000,000).
  assert.is(calls(), copies - 1);
});

test("interleaved sales keep their own counts; the id written is the n-th occurrence's", () => {
  const { key } = countingKey();
  const occurrences = new Occurrences(key);
  const seen: string[] = [];
  for (const byte of [1, 2, 1, 1, 2, 3]) {
    const keys = id(byte);
    const n = occurrences.number(keys, 0);
    seen.push(`${byte}:${n}:${n === 1 ? "first" : new DataView(keys.buffer).getUint32(1)}`);
  }
  assert.equal(seen, ["1:1:first", "2:1:first", "1:2:2", "1:3:3", "2:2:2", "3:1:first"]);
});

test.run();
