// A faster HMAC-SHA256 for the sale ids (sale-identity.ts): same bytes as node's `createHmac`.
import { createHash, hash } from "node:crypto";

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
