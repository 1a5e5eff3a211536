// A set of 128-bit ids (given as hex or bytes) in typed arrays (open addressing, linear
// probing): about 34 bytes per id instead of ~100 for a Set of strings, so deduplicating a
// million sales stays small. The set is split in 16 shards by the id's first hex digit, each
// growing alone: growth never holds two copies of the whole set, and a new set (one per chunk
// in worker threads) costs only 32 small arrays.
const SHARDS = 16;
const FIRST_SLOTS = 64;

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
    if (!HEX_ID.test(id)) throw new Error(`IdSet takes 32 lowercase hex chars, got ${JSON.stringify(id)}`);
    return this.addBytes(Buffer.from(id, "hex"), 0);
  }

  /** Adds the 16-byte id at `at` in `bytes`; returns false when it was already present. */
  addBytes(bytes: Uint8Array, at: number): boolean {
    if (at < 0 || at + 16 > bytes.length) throw new Error(`IdSet: no 16-byte id at ${at}`);
    return this.put(byteWord(bytes, at), byteWord(bytes, at + 4), byteWord(bytes, at + 8), byteWord(bytes, at + 12));
  }

  private put(a: number, b: number, c: number, d: number): boolean {
    const shard = this.shards[a >>> 28]!;
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
  // The first four bits chose the shard: the slot comes from other bits.
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

const HEX_ID = /^[0-9a-f]{32}$/;
