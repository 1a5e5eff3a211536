// A transform failure, as both targets write and read it: `failed.json` beside where the file's
// manifest would be (docs/design.md §6). transformObject writes it (writeFailure); the load on AWS
// (record-failure.ts, from its S3 event) and `coffeetl ingest` locally read it back (readFailure)
// and record the same `file_outcomes` row from it.
import { createHash } from "node:crypto";
import { text } from "node:stream/consumers";
import { UnreadableFileError } from "../core/errors.js";
import { FAILURE_FILE, transformedPrefix } from "../core/manifest.js";
import type { Storage } from "./ports.js";

/** What `failed.json` holds. Never row content. */
export interface TransformFailure {
  source: { bucket: string; key: string; sha256?: string; versionId?: string | null };
  reason: string;
  failedAt?: string;
}

/** Where a refused raw key's failure goes: its own prefix cannot exist, so the key's hash stands for it. */
const REFUSED_PREFIX = "_refused";

/**
 * The failed.json key of a raw object: beside where its manifest would be, or, for a refused key
 * (`refused`), under `_refused/<16 hex of the key's sha256>/<16 hex of the content's>`.
 */
export function failureKeyOf(rawKey: string, sha256: string, refused = false): string {
  const prefix = refused
    ? `${REFUSED_PREFIX}/${createHash("sha256").update(rawKey).digest("hex").slice(0, 16)}/${sha256.slice(0, 16)}`
    : transformedPrefix(rawKey, sha256);
  return `${prefix}/${FAILURE_FILE}`;
}

/** Checks a failed.json's text; throws naming `failureKey` when it lacks the source key or the reason. */
function parseFailure(body: string, failureKey: string): TransformFailure {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new Error(`${failureKey} is not JSON`);
  }
  const v = value as Partial<TransformFailure> | null;
  const source = v?.source as Partial<TransformFailure["source"]> | undefined;
  if (!source || typeof source.key !== "string" || !source.key) throw new Error(`${failureKey} names no source key`);
  if (typeof v!.reason !== "string" || !v!.reason) throw new Error(`${failureKey} gives no reason`);
  const failure: TransformFailure = { source: { bucket: String(source.bucket ?? ""), key: source.key }, reason: v!.reason };
  if (typeof source.sha256 === "string" && /^[0-9a-f]{64}$/.test(source.sha256)) failure.source.sha256 = source.sha256;
  // null where the store keeps no versions (a folder), as written.
  failure.source.versionId = typeof source.versionId === "string" && source.versionId ? source.versionId : null;
  if (typeof v!.failedAt === "string" && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/.test(v!.failedAt)) failure.failedAt = v!.failedAt;
  return failure;
}

/** Reads and checks the failed.json at `failureKey`. */
export async function readFailure(transformed: Storage, failureKey: string): Promise<TransformFailure> {
  return parseFailure(await text((await transformed.get(failureKey)).body), failureKey);
}

/**
 * Writes `failure` at `failureKey`, unless a failed.json with the same reason is there already: on
 * AWS a write is an event the load records, so a retry failing the same way is recorded once.
 */
export async function writeFailure(transformed: Storage, failureKey: string, failure: Omit<TransformFailure, "failedAt">): Promise<void> {
  const earlier = await transformed
    .exists(failureKey)
    .then((found) => (found ? readFailure(transformed, failureKey) : undefined))
    .catch(() => undefined);
  if (earlier?.reason === failure.reason) return;
  const { bucket, key, sha256, versionId } = failure.source;
  // Always the four source fields, in this order (a missing version is null).
  const written = { source: { bucket, key, sha256, versionId: versionId ?? null }, reason: failure.reason, failedAt: new Date().toISOString() };
  await transformed.put(failureKey, JSON.stringify(written, null, 2) + "\n", { contentType: "application/json" });
}

/** An unreadable file: thrown by transformObject after its failed.json is written at `failureKey`. */
export class TransformFailedError extends UnreadableFileError {
  constructor(
    message: string,
    readonly failureKey: string,
  ) {
    super(message);
  }
}
