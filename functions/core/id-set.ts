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
    checkId(bytes, at);
    return this.put(byteWord(bytes, at), byteWord(bytes, at + 4), byteWord(bytes, at + 8), byteWord(bytes, at + 12));
  }

  /** Whether the id, given as four big-endian 32-bit words, is present. */
  has(a: number, b: number, c: number, d: number): boolean {
    return find(this.shards[a >>> 28]!, a, b, c, d) >= 0;
  }

  /** Adds the id given as four big-endian 32-bit words; false when it was already present. */
  put(a: number, b: number, c: number, d: number): boolean {
    const shard = this.shards[a >>> 28]!;
    if (!insert(shard, a, b, c, d)) return false;
    this.total++;
    // At most half full, so probes stay short.
    if (++shard.count * 2 > shard.used.length) grow(shard);
    return true;
  }
}

/** The slot holding the id, or -(free slot where it would go) - 1. */
function find(shard: Shard, a: number, b: number, c: number, d: number): number {
  const { words, used } = shard;
  const mask = used.length - 1;
  // The first four bits chose the shard: the slot comes from other bits.
  for (let i = (b ^ d) & mask; ; i = (i + 1) & mask) {
    if (used[i] === 0) return -i - 1;
    const at = i * 4;
    if (words[at] === a && words[at + 1] === b && words[at + 2] === c && words[at + 3] === d) return i;
  }
}

function insert(shard: Shard, a: number, b: number, c: number, d: number): boolean {
  const slot = find(shard, a, b, c, d);
  if (slot >= 0) return false;
  const i = -slot - 1;
  const { words } = shard;
  shard.used[i] = 1;
  words[i * 4] = a;
  words[i * 4 + 1] = b;
  words[i * 4 + 2] = c;
  words[i * 4 + 3] = d;
  return true;
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

function checkId(bytes: Uint8Array, at: number): void {
  if (at < 0 || at + 16 > bytes.length) throw new Error(`IdSet: no 16-byte id at ${at}`);
}

/** Four bytes at `at`, big-endian (the order of the hex digits), as an unsigned 32-bit number. */
const byteWord = (bytes: Uint8Array, at: number): number => ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;

const HEX_ID = /^[0-9a-f]{32}$/;

/** Sales remembered by `RecentIds` per generation: a whole file of up to this many is exact. */
export const OCCURRENCE_WINDOW = 131_072;

/**
 * The ids of the most recent sales of a file, in bounded memory: two generations of `window` ids
 * (at most ~9 MB each at the default), the older dropped when the newer fills. An id is found
 * again if it was added fewer than `window` ids ago, and always within a file of up to `window`
 * sales. Memory stays flat however large the file.
 */
export class RecentIds {
  private current = new IdSet();
  private previous: IdSet | undefined;

  constructor(private readonly window: number = OCCURRENCE_WINDOW) {
    if (!Number.isSafeInteger(window) || window < 1) throw new Error(`occurrence window must be a positive integer, got ${window}`);
  }

  /** Adds the 16-byte id at `at`; false when it is among the ids remembered. */
  addBytes(bytes: Uint8Array, at: number): boolean {
    checkId(bytes, at);
    const a = byteWord(bytes, at);
    const b = byteWord(bytes, at + 4);
    const c = byteWord(bytes, at + 8);
    const d = byteWord(bytes, at + 12);
    if (this.previous?.has(a, b, c, d)) return false;
    if (!this.current.put(a, b, c, d)) return false;
    if (this.current.size >= this.window) {
      this.previous = this.current;
      this.current = new IdSet();
    }
    return true;
  }
}
