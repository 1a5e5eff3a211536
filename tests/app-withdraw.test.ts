// functions/app/withdraw.ts alone: a withdrawal is the file's header and nothing else, transformed
// like an upload into the transformed store (no sales, no rejects), written once per key; the raw
// store is never given to it, so it cannot touch the raw file.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { WITHDRAWAL, transformWithdrawal, writeWithdrawal } from "../functions/app/withdraw.js";
import { FolderStorage } from "../functions/local/folder-storage.js";
import { tempDir } from "./helpers.js";

const KEY = "uploads/leeds/2024-03-01.csv";
const dir = await tempDir("coffeetl-withdraw-");
const deps = () => ({ transformed: new FolderStorage(dir.path), transactionIdKey: "k".repeat(32) });

test("the withdrawal is the raw header row alone", () => {
  assert.equal(WITHDRAWAL.split("\n"), ["Timestamp,Location,Customer Name,Items Ordered,Total Amount,Payment Method,Card Number", ""]);
});

test("written under the key's own transformed prefix: a manifest with no rows, no rejects, no warnings", async () => {
  const outcome = await transformWithdrawal(deps(), KEY);
  assert.is(outcome.status, "transformed");
  assert.ok(outcome.manifestKey.startsWith("uploads/leeds/2024-03-01/"), outcome.manifestKey);
  assert.ok(outcome.manifestKey.endsWith("/manifest.json"));
  const m = outcome.manifest;
  assert.equal([m.source.key, m.rowsRead, m.rejected, m.warnings], [KEY, 0, 0, 0]);
  assert.equal(m.rows, { branches: 0, products: 0, transactions: 0, transaction_items: 0 });
  assert.is(m.source.size, Buffer.byteLength(WITHDRAWAL));
  const onDisk = JSON.parse(readFileSync(join(dir.path, outcome.manifestKey), "utf8"));
  assert.is(onDisk.rows.transactions, 0);
});

test("writing it again rewrites nothing (skipped) and names the same manifest", async () => {
  const before = readdirSync(join(dir.path, "uploads/leeds/2024-03-01"));
  const again = await transformWithdrawal(deps(), KEY);
  assert.is(again.status, "skipped");
  assert.is(await writeWithdrawal(deps(), KEY), again.manifestKey);
  assert.equal(readdirSync(join(dir.path, "uploads/leeds/2024-03-01")), before);
});

test("each key has its own withdrawal", async () => {
  const other = await writeWithdrawal(deps(), "uploads/york/2024-03-01.csv");
  assert.ok(other.startsWith("uploads/york/2024-03-01/"), other);
});

test.after(() => dir.remove());
test.run();
