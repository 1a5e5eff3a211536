// Deterministic keys (docs/design.md §4), so any file can be processed alone and in any order.
import { createHash, hash } from "node:crypto";
import { ITEM_CACHE_LIMIT, type Item, type RawSales } from "./records.js";

const SEP = "\u001f";
const hash128 = (text: string) => hash("sha256", text, "hex").slice(0, 32);

export const branchId = (branchName: string): string => hash128(branchName);

export const productId = (product: string, size: string | null, flavour: string | null): string =>
  hash128([product, size ?? "", flavour ?? ""].join(SEP));

const BLOCK = 64;
const MAX_MESSAGE = 64 * 1024;

/**
 * HMAC-SHA256 (RFC 2104) for one key and many short messages: writes the first `length` bytes
 * of a message's MAC into `out` at `at`. Same result as `createHmac("sha256", key)`, which
 * spends most of its time setting the key up on every call; here the padded keys are made once
 * and each message costs two one-shot hashes. With an ASCII key (as generated), the padded inner
 * key is ASCII too, so the inner hash reads a plain string and nothing per message allocates a
 * Buffer (digests cross as base64 text, decoded into buffers made once).
 */
export function hmacSha256(key: string | Buffer): (message: string, out: Uint8Array, at: number, length: number) => void {
  let k = Buffer.from(key);
  if (k.length > BLOCK) k = createHash("sha256").update(k).digest();
  const innerPad = Buffer.alloc(BLOCK);
  const outer = Buffer.alloc(BLOCK + 32);
  for (let i = 0; i < BLOCK; i++) {
    innerPad[i] = (k[i] ?? 0) ^ 0x36;
    outer[i] = (k[i] ?? 0) ^ 0x5c;
  }
  const mac = Buffer.alloc(32);
  const copyOut = (out: Uint8Array, at: number, length: number) => {
    for (let i = 0; i < length; i++) out[at + i] = mac[i]!;
  };
  if (innerPad.every((byte) => byte < 0x80)) {
    const innerPrefix = innerPad.toString("latin1");
    return (message, out, at, length) => {
      outer.write(hash("sha256", innerPrefix + message, "base64"), BLOCK, "base64");
      mac.write(hash("sha256", outer, "base64"), 0, "base64");
      copyOut(out, at, length);
    };
  }
  const inner = Buffer.alloc(BLOCK + MAX_MESSAGE);
  innerPad.copy(inner);
  return (message, out, at, length) => {
    if (message.length * 3 > MAX_MESSAGE) throw new Error("message too long for the keyed hash");
    const end = BLOCK + inner.write(message, BLOCK, "utf8");
    hash("sha256", inner.subarray(0, end), "buffer").copy(outer, BLOCK);
    hash("sha256", outer, "buffer").copy(mac);
    copyOut(out, at, length);
  };
}

/** The 32 hex digits of the 16 bytes at `at`. */
const hexAt = (bytes: Uint8Array, at: number) => Buffer.from(bytes.buffer, bytes.byteOffset + at, 16).toString("hex");

/**
 * The id of the n-th identical sale of one file (n ≥ 2, docs/design.md §4): HMAC-SHA256 over
 * `occurrence`, the first one's id (itself keyed over the sale) and n, its first 128 bits written
 * at `outAt`. The first occurrence keeps the plain id, so a sale's id changes only if it repeats.
 */
export function occurrenceKeys(secret: string | Buffer): (first: Uint8Array, at: number, n: number, out: Uint8Array, outAt: number) => void {
  const hmac = hmacSha256(secret);
  return (first, at, n, out, outAt) => hmac(`occurrence${SEP}${hexAt(first, at)}${SEP}${n}`, out, outAt, 16);
}

const itemKey = (item: Item) => `${item.size ?? ""}${SEP}${item.product}${SEP}${item.flavour ?? ""}${SEP}${item.pricePence}`;

/**
 * Keyed id of a sale's first occurrence in its file: HMAC-SHA256 over its normalised content (time, branch, customer name,
 * items in a fixed order, total, payment), its first 128 bits written as 16 bytes into `keys` at
 * `at` (as text, 32 hex chars). The card number is left out (spreadsheet re-saves mangle it);
 * without the secret the id reveals nothing about the customer.
 */
export function transactionKeys(secret: string | Buffer): (sales: RawSales, sale: number, keys: Uint8Array, at: number) => void {
  const hmac = hmacSha256(secret);
  const keys = new Map<Item, string>();
  const keyOf = (item: Item) => {
    let key = keys.get(item);
    if (key === undefined) {
      key = itemKey(item);
      if (keys.size < ITEM_CACHE_LIMIT) keys.set(item, key);
    }
    return key;
  };
  const sorted: string[] = [];
  return (sales, sale, out, at) => {
    // Items in a fixed (sorted) order, so the id does not depend on how the basket was listed.
    // Baskets hold a handful of items: an insertion sort beats Array#sort's machinery here.
    const from = sales.itemStart[sale]!;
    const count = sales.itemStart[sale + 1]! - from;
    let items = keyOf(sales.items[from]!);
    if (count > 1) {
      sorted[0] = items;
      for (let n = 1; n < count; n++) {
        const key = keyOf(sales.items[from + n]!);
        let at = n;
        for (; at > 0 && sorted[at - 1]! > key; at--) sorted[at] = sorted[at - 1]!;
        sorted[at] = key;
      }
      items = sorted[0]!;
      for (let n = 1; n < count; n++) items += "\u001e" + sorted[n]!;
    }
    const message = `${sales.time[sale]}${SEP}${sales.branch[sale]}${SEP}${sales.customerName[sale]!.trim()}${SEP}${items}${SEP}${sales.totalPence[sale]}${SEP}${sales.payment[sale]}`;
    hmac(message, out, at, 16);
  };
}

/**
 * Fingerprint of a transaction-id key, recorded in manifests and by the warehouse so that loads
 * keyed with another key are refused: `sha256("coffeetl-key-fingerprint:" + key)`, 16 hex chars.
 * It reveals nothing usable about the key.
 */
export const keyFingerprint = (secret: string | Buffer): string =>
  createHash("sha256").update("coffeetl-key-fingerprint:").update(secret).digest("hex").slice(0, 16);

/** The least a transaction-id key may hold, however it is given (variable, key file, SSM, made by a home). */
export const MIN_KEY_CHARS = 16;

/** Why a transaction-id key is too weak to key sales with, or undefined when it is strong enough. */
export function keyWeakness(key: string): string | undefined {
  return key.length < MIN_KEY_CHARS ? `holds ${key.length} character${key.length === 1 ? "" : "s"}; a transaction-id key needs at least ${MIN_KEY_CHARS}` : undefined;
}
