// manifest.json (docs/design.md §6): written last under a transformed prefix; its arrival triggers the load.
import type { TableName } from "./schema.js";
import { ORDER_PATTERN } from "./version-order.js";

export const TRANSFORM_VERSION = "1.0.0";

export const OUTPUT_FILES = {
  branches: "branches.csv",
  products: "products.csv",
  transactions: "transactions.csv",
  transaction_items: "transaction_items.csv",
} as const satisfies Record<TableName, string>;
export const REJECTS_FILE = "rejects.csv";
/** Lines loaded with a warning (`line_number,reason`), beside the rejects. */
export const WARNINGS_FILE = "warnings.csv";
export const MANIFEST_FILE = "manifest.json";
export const FAILURE_FILE = "failed.json";
/** Where the load writes the Redshift COPY manifests of its batches, in the transformed bucket. */
export const COPY_MANIFEST_PREFIX = "_load-batches";

/** What a transform counted in one file. */
export interface TransformSummary {
  /** Data rows read (header and blank lines excluded). */
  rowsRead: number;
  /** Rows per table file (after `keepOnce`). */
  rows: Record<TableName, number>;
  rejected: number;
  /**
   * The raw file's encoding when it was not UTF-8 (Windows-1252 or UTF-16, decoded before reading:
   * core/encoding.ts); absent for UTF-8.
   */
  encoding?: "windows-1252" | "utf-16le" | "utf-16be";
  /** Sales whose total differs from the sum of their item prices (loaded all the same). */
  warnings: number;
  /** The first rejected lines and the first lines loaded with a warning (line and reason, no content; up to 10 each). */
  firstRejects?: LineNote[];
  firstWarnings?: LineNote[];
}

/** A line of a raw file and what was wrong with it; never its content. */
export interface LineNote {
  line: number;
  reason: string;
}

export interface Manifest extends TransformSummary {
  source: {
    bucket: string;
    key: string;
    versionId: string | null;
    size: number;
    sha256: string;
    /** The version's place among its key's versions (core/version-order.ts); absent from older manifests. */
    order?: string;
  };
  files: Record<TableName | "rejects", string> & { warnings?: string };
  /** Fingerprint of the transaction-id key that keyed the sales (core/keys `keyFingerprint`). */
  keyFingerprint: string;
  transformVersion: string;
  transformedAt: string;
}

/** The transformed prefix of a raw object: `<key without .csv>/<first 16 hex of sha256>`. */
export function transformedPrefix(rawKey: string, sha256: string): string {
  return `${rawKey.replace(/\.csv$/i, "")}/${sha256.slice(0, 16)}`;
}

/** S3's longest object key, in bytes. */
export const S3_KEY_BYTES = 1024;
const LONGEST_OUTPUT = Math.max(...[...Object.values(OUTPUT_FILES), REJECTS_FILE, WARNINGS_FILE, MANIFEST_FILE, FAILURE_FILE].map((f) => f.length));
/** Bytes a `.csv` raw key gains as a transformed key: `.csv` → `/<16 hex>/transaction_items.csv` (35). */
export const TRANSFORMED_KEY_EXTRA_BYTES = 1 + 16 + 1 + LONGEST_OUTPUT - ".csv".length;
/** The longest `.csv` raw key whose transformed files (and failed.json) fit S3's key limit (989 bytes). */
export const MAX_RAW_KEY_BYTES = S3_KEY_BYTES - TRANSFORMED_KEY_EXTRA_BYTES;

/** Why a raw key cannot be transformed (its outputs' keys would exceed S3's limit), or undefined. */
export function rawKeyTooLong(rawKey: string): string | undefined {
  const longest = Buffer.byteLength(transformedPrefix(rawKey, "0".repeat(16))) + 1 + LONGEST_OUTPUT;
  if (longest <= S3_KEY_BYTES) return undefined;
  return (
    `raw key is ${Buffer.byteLength(rawKey)} bytes; at most ${MAX_RAW_KEY_BYTES} fit, since its transformed files' keys add ` +
    `${TRANSFORMED_KEY_EXTRA_BYTES} bytes and S3 keys are at most ${S3_KEY_BYTES}: upload it again under a shorter name or folder`
  );
}

/** Checks that a parsed manifest has the fields a loader relies on. */
export function parseManifest(text: string, where: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${where}: manifest is not valid JSON (${(error as Error).message})`, { cause: error });
  }
  const m = value as Partial<Manifest>;
  const problems: string[] = [];
  if (typeof m.source?.key !== "string") problems.push("source.key missing");
  if (typeof m.source?.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(m.source.sha256)) problems.push("source.sha256 missing or not hex");
  if (m.source?.order !== undefined && (typeof m.source.order !== "string" || !ORDER_PATTERN.test(m.source.order))) problems.push("source.order malformed");
  if (typeof m.rowsRead !== "number") problems.push("rowsRead missing");
  if (typeof m.rejected !== "number") problems.push("rejected missing");
  if (typeof m.warnings !== "number") problems.push("warnings missing");
  if (!m.rows || typeof m.rows !== "object") problems.push("rows missing");
  if (!m.files || typeof m.files !== "object") problems.push("files missing");
  if (typeof m.keyFingerprint !== "string" || !/^[0-9a-f]{16}$/.test(m.keyFingerprint)) {
    problems.push("keyFingerprint missing (written by a transform older than one identity per warehouse: transform the file again)");
  }
  if (problems.length) throw new Error(`${where}: invalid manifest: ${problems.join(", ")}`);
  return m as Manifest;
}
