// A set of 128-bit ids (given as hex or bytes) in typed arrays (open addressing, linear
// probing): about 34 bytes per id instead of ~100 for a Set of strings, so deduplicating a
// million sales stays small. The set is split in 256 shards by the id's first byte, each
// growing alone: growth never holds two copies of the whole set, so the peak stays the size.
const SHARDS = 256;
const FIRST_SLOTS = 16;

interface Shard {
  /** Four 32-bit words per slot. */
  words: Uint32Array;
  used: Uint8Array;
  count: number;
}

export class IdSet {
  private readonly shards: Shard[] = Array.from({ length: SHARDS }, () => ({
    words: new Uint32Array(FIRST_SLOTS * 4),
    used: new Uint8Array(FIRST_SLOTS),
    count: 0,
  }));
  private total = 0;

  get size(): number {
    return this.total;
  }

  /** Adds a 32-hex-char id (lowercase); returns false when it was already present. */
  add(id: string): boolean {
    if (id.length !== 32) throw new Error(`IdSet takes 32 hex chars, got ${id.length}`);
    return this.put(hexWord(id, 0), hexWord(id, 8), hexWord(id, 16), hexWord(id, 24));
  }

  /** Adds the 16-byte id at `at` in `bytes`; returns false when it was already present. */
  addBytes(bytes: Uint8Array, at: number): boolean {
    if (at < 0 || at + 16 > bytes.length) throw new Error(`IdSet: no 16-byte id at ${at}`);
    return this.put(byteWord(bytes, at), byteWord(bytes, at + 4), byteWord(bytes, at + 8), byteWord(bytes, at + 12));
  }

  private put(a: number, b: number, c: number, d: number): boolean {
    const shard = this.shards[a >>> 24]!;
    if (!insert(shard, a, b, c, d)) return false;
    this.total++;
    // At most half full, so probes stay short.
    if (++shard.count * 2 > shard.used.length) grow(shard);
    return true;
  }
}

function insert(shard: Shard, a: number, b: number, c: number, d: number): boolean {
  const { words, used } = shard;
  const mask = used.length - 1;
  // The first byte chose the shard: the slot comes from other bits.
  for (let i = (b ^ d) & mask; ; i = (i + 1) & mask) {
    const at = i * 4;
    if (used[i] === 0) {
      used[i] = 1;
      words[at] = a;
      words[at + 1] = b;
      words[at + 2] = c;
      words[at + 3] = d;
      return true;
    }
    if (words[at] === a && words[at + 1] === b && words[at + 2] === c && words[at + 3] === d) return false;
  }
}

function grow(shard: Shard): void {
  const { words, used } = shard;
  const slots = used.length * 2;
  shard.words = new Uint32Array(slots * 4);
  shard.used = new Uint8Array(slots);
  for (let i = 0; i < used.length; i++) {
    if (used[i]) insert(shard, words[i * 4]!, words[i * 4 + 1]!, words[i * 4 + 2]!, words[i * 4 + 3]!);
  }
}

/** Four bytes at `at`, big-endian (the order of the hex digits), as an unsigned 32-bit number. */
const byteWord = (bytes: Uint8Array, at: number): number =>
  ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;

/** Value of each ASCII character as a lowercase hex digit, -1 for anything else. */
const HEX_DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX_DIGIT[48 + i] = i;
for (let i = 0; i < 6; i++) HEX_DIGIT[97 + i] = 10 + i;

/** Eight hex digits at `at` as an unsigned 32-bit number (no substring, no parseInt). */
function hexWord(id: string, at: number): number {
  let word = 0;
  let invalid = 0;
  for (let i = at; i < at + 8; i++) {
    const digit = HEX_DIGIT[id.charCodeAt(i) & 127]!;
    invalid |= digit | (id.charCodeAt(i) & ~127);
    word = (word << 4) | (digit & 15);
  }
  if (invalid < 0 || invalid > 15) throw new Error(`IdSet takes lowercase hex ids, got ${JSON.stringify(id)}`);
  return word >>> 0;
}
