// Which of two versions of one raw key is newer, as a string that sorts in upload order: a load of an
// older version than its key's current one changes nothing (warehouse/load/arrival.ts). Orders of
// one raw key always come from one place (S3, or one machine's files), so they compare as strings.

/** Width S3 sequencers are padded to: they "can be of different lengths" (S3 event docs). */
const SEQUENCER_WIDTH = 32;

/**
 * An S3 event's `sequencer` (hex; the greater is the later PUT of the same key). S3's documentation
 * says to right-pad the shorter value with zeros and compare lexicographically.
 */
export function s3Order(sequencer: string): string {
  const hex = sequencer.trim().toUpperCase();
  if (!/^[0-9A-F]{1,32}$/.test(hex)) throw new Error(`S3 sequencer must be up to ${SEQUENCER_WIDTH} hex digits, got ${JSON.stringify(sequencer)}`);
  return `s3:${hex.padEnd(SEQUENCER_WIDTH, "0")}`;
}

/**
 * A local file's version: its modification time (ms), then its content hash, so two versions with
 * the same time still order the same way on every machine and in every loader.
 */
export function fileOrder(mtimeMs: number, sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error("file order needs the content's sha256 in hex");
  return `t:${String(Math.max(0, Math.floor(mtimeMs))).padStart(16, "0")}:${sha256.slice(0, 16)}`;
}

/** The form both orders take: checked before it is inlined into the load's SQL. */
export const ORDER_PATTERN = /^(s3:[0-9A-F]{32}|t:[0-9]{16}:[0-9a-f]{16})$/;

/** True when `a` is a strictly older version than `b` (either unknown: not known to be older). */
export const isOlder = (a: string | null | undefined, b: string | null | undefined): boolean => !!a && !!b && a < b;
