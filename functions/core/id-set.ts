// A set of 128-bit ids (given as hex or bytes) in one typed array (open addressing, linear
// probing): about 34 bytes per id instead of ~100 for a Set of strings, so deduplicating a
// million sales stays small.
export class IdSet {
  private words: Uint32Array;
  private used: Uint8Array;
  private mask: number;
  private count = 0;

  constructor() {
    this.words = new Uint32Array(1024 * 4);
    this.used = new Uint8Array(1024);
    this.mask = 1023;
  }

  get size(): number {
    return this.count;
  }

  /** Adds a 32-hex-char id (lowercase); returns false when it was already present. */
  add(id: string): boolean {
    if (id.length !== 32) throw new Error(`IdSet takes 32 hex chars, got ${id.length}`);
    if (!this.insert(hexWord(id, 0), hexWord(id, 8), hexWord(id, 16), hexWord(id, 24))) return false;
    if (++this.count * 2 > this.mask + 1) this.grow();
    return true;
  }

  /** Adds the 16-byte id at `at` in `bytes`; returns false when it was already present. */
  addBytes(bytes: Uint8Array, at: number): boolean {
    if (at < 0 || at + 16 > bytes.length) throw new Error(`IdSet: no 16-byte id at ${at}`);
    if (!this.insert(byteWord(bytes, at), byteWord(bytes, at + 4), byteWord(bytes, at + 8), byteWord(bytes, at + 12))) return false;
    if (++this.count * 2 > this.mask + 1) this.grow();
    return true;
  }

  private insert(a: number, b: number, c: number, d: number): boolean {
    const { words, used, mask } = this;
    for (let i = (a ^ d) & mask; ; i = (i + 1) & mask) {
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

  private grow(): void {
    const { words, used } = this;
    const capacity = used.length * 2;
    this.words = new Uint32Array(capacity * 4);
    this.used = new Uint8Array(capacity);
    this.mask = capacity - 1;
    for (let i = 0; i < used.length; i++) {
      if (used[i]) this.insert(words[i * 4]!, words[i * 4 + 1]!, words[i * 4 + 2]!, words[i * 4 + 3]!);
    }
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
