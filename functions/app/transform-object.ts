// Application service: transform one raw object into its transformed prefix (docs/design.md §6).
// Used unchanged by the extract-transform Lambda (S3) and by `coffeetl ingest` (folders).
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { buffer, text } from "node:stream/consumers";
import { UnreadableFileError, visibleKey } from "../core/errors.js";
import {
  MANIFEST_FILE,
  OUTPUT_FILES,
  REJECTS_FILE,
  TRANSFORM_VERSION,
  WARNINGS_FILE,
  parseManifest,
  rawKeyTooLong,
  transformedPrefix,
  type Manifest,
} from "../core/manifest.js";
import { keyFingerprint } from "../core/keys.js";
import { fileOrder, isOlder } from "../core/version-order.js";
import { transform, workersFor } from "../core/transform.js";
import { silentLog, type Log } from "./log.js";
import type { Storage } from "./ports.js";
import { TransformFailedError, failureKeyOf, writeFailure, type TransformFailure } from "./transform-failure.js";
import { WHOLE_OBJECT_BYTES } from "../core/limits.js";

export interface TransformDeps {
  raw: Storage;
  transformed: Storage;
  /** The transaction-id key (the HMAC key of sale ids). */
  transactionIdKey: string | Buffer;
  log?: Log;
  /** Worker threads for the transform; by default as many as help for the object's size. */
  workers?: number | undefined;
  /** Sales remembered to number identical ones within a file (default `OCCURRENCE_WINDOW`). */
  occurrenceWindow?: number;
  /** Called with bytes read so far, for progress display. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
}

export interface TransformedOutcome {
  /** `skipped` when this exact content was already transformed (a redelivered event). */
  status: "transformed" | "skipped";
  prefix: string;
  manifestKey: string;
  manifest: Manifest;
  durationMs: number;
  /** Worker threads the transform used (0: the calling thread; also when skipped). */
  workers: number;
}

/**
 * A raw key that can never be transformed (a control character in it, or too long for its outputs'
 * keys): nothing is transformed and `failure` is written at `failureKey` for the load to record.
 * Final, so returned rather than thrown: a retry could only fail the same way.
 */
interface RefusedOutcome {
  status: "refused";
  failureKey: string;
  failure: TransformFailure;
  durationMs: number;
}

type TransformOutcome = TransformedOutcome | RefusedOutcome;

async function sha256Of(body: Readable): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of body) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

interface TransformObjectOptions {
  /** The raw object's version to read (the S3 event's `versionId`); the latest when omitted. */
  versionId?: string;
  /** This upload's place among the key's versions (core/version-order.ts): the S3 sequencer's order. */
  order?: string;
  /** Locally: the file's modification time, ordered with its content hash (`fileOrder`). */
  modifiedMs?: number;
  /** Branches the file may hold (an uploader's, core/branches.ts); rows of others are rejected. */
  branches?: readonly string[];
}

function keyRefusal(key: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) return "the file name holds a control character (a newline or a tab, say): rename the file and upload it again";
  return rawKeyTooLong(key);
}

export async function transformObject(deps: TransformDeps, key: string, options: TransformObjectOptions = {}): Promise<TransformOutcome> {
  const { raw, transformed } = deps;
  const log = deps.log ?? silentLog;
  const started = Date.now();
  // The content hash names the output prefix. A small object is hashed and transformed from one
  // read; a large one is read twice, the second read pinned to the same version, so both passes
  // see the same bytes even if the key is overwritten meanwhile.
  const first = await raw.get(key, options.versionId ? { versionId: options.versionId } : {});
  const whole = first.size <= WHOLE_OBJECT_BYTES ? await buffer(first.body) : undefined;
  const sha256 = whole ? createHash("sha256").update(whole).digest("hex") : await sha256Of(first.body);
  const prefix = transformedPrefix(key, sha256);
  const manifestKey = `${prefix}/${MANIFEST_FILE}`;
  const versionId = options.versionId ?? first.versionId;
  const failureSource = { bucket: raw.name, key, sha256, versionId: versionId ?? null };
  // Refused before anything else is written, with a reason the load records (issue 19 item 5).
  const refusal = keyRefusal(key);
  if (refusal) {
    const failureKey = failureKeyOf(key, sha256, true);
    const failure = { source: failureSource, reason: refusal };
    await writeFailure(transformed, failureKey, failure);
    log.error("file refused", { key: visibleKey(key), keyBytes: Buffer.byteLength(key), reason: refusal, failureKey });
    return { status: "refused", failureKey, failure, durationMs: Date.now() - started };
  }
  const order = options.order ?? (options.modifiedMs !== undefined ? fileOrder(options.modifiedMs, sha256) : undefined);

  const fingerprint = keyFingerprint(deps.transactionIdKey);
  if (await transformed.exists(manifestKey)) {
    // Reused only when keyed with this key: after a key change (the warehouse's key given at last)
    // the same content is transformed again, so its ids are the warehouse's.
    const manifest = await text((await transformed.get(manifestKey)).body)
      .then(
        (t) => parseManifest(t, manifestKey),
        () => undefined,
      )
      .catch(() => undefined);
    if (manifest?.keyFingerprint === fingerprint) {
      // The same content uploaded again after another version (v1, v2, v1 again) is the newest
      // version now: its manifest takes the new order (and on S3 its rewrite triggers the load).
      // An older upload's event arriving late leaves it as it is.
      if (order && (!manifest.source.order || isOlder(manifest.source.order, order))) {
        manifest.source = { ...manifest.source, versionId: versionId ?? null, order };
        await transformed.put(manifestKey, JSON.stringify(manifest, null, 2) + "\n", { contentType: "application/json" });
        log.info("already transformed; newer upload of the same content", { key, prefix });
      } else log.info("already transformed", { key, prefix });
      return { status: "skipped", prefix, manifestKey, manifest, durationMs: Date.now() - started, workers: 0 };
    }
  }

  const input = whole ? Readable.from([whole], { objectMode: false }) : (await raw.get(key, versionId ? { versionId } : {})).body;
  let bytesRead = 0;
  if (deps.onProgress) {
    const report = deps.onProgress;
    input.on("data", (chunk: Buffer) => report((bytesRead += chunk.length), first.size));
  }
  const workers = deps.workers ?? workersFor(first.size);
  const run = transform(input, {
    transactionIdKey: deps.transactionIdKey,
    sourceKey: key,
    workers,
    occurrenceWindow: deps.occurrenceWindow,
    branches: options.branches,
  });
  const write = async (file: string, output: Readable) =>
    transformed.put(`${prefix}/${file}`, whole ? await buffer(output) : output, { contentType: "text/csv" });
  const uploads = [
    ...Object.entries(OUTPUT_FILES).map(([table, file]) => write(file, run.outputs[table as keyof typeof OUTPUT_FILES])),
    write(REJECTS_FILE, run.outputs.rejects),
    write(WARNINGS_FILE, run.outputs.warnings),
  ];
  let summary;
  try {
    [summary] = await Promise.all([run.done, ...uploads]);
  } catch (error) {
    await Promise.allSettled(uploads);
    if (error instanceof UnreadableFileError) {
      // Recorded beside where the manifest would be, so the failure is visible and replayable; the
      // load (AWS) or the pipeline (locally) records it in file_outcomes (record-failure.ts).
      const failureKey = failureKeyOf(key, sha256);
      await writeFailure(transformed, failureKey, { source: failureSource, reason: error.reason });
      log.error("file unreadable", { key, reason: error.reason });
      throw new TransformFailedError(`${key}: ${error.reason}`, failureKey);
    }
    throw error;
  }

  const manifest: Manifest = {
    source: { bucket: raw.name, key, versionId: versionId ?? null, size: first.size, sha256, ...(order ? { order } : {}) },
    ...summary,
    files: { ...OUTPUT_FILES, rejects: REJECTS_FILE, warnings: WARNINGS_FILE },
    keyFingerprint: fingerprint,
    transformVersion: TRANSFORM_VERSION,
    transformedAt: new Date().toISOString(),
  };
  // Written last: its arrival is what triggers the load.
  await transformed.put(manifestKey, JSON.stringify(manifest, null, 2) + "\n", { contentType: "application/json" });
  const durationMs = Date.now() - started;
  if (manifest.encoding) log.warn("not UTF-8: decoded", { key, encoding: manifest.encoding });
  log.info("transformed", {
    key,
    prefix,
    rowsRead: manifest.rowsRead,
    transactions: manifest.rows.transactions,
    rejected: manifest.rejected,
    warnings: manifest.warnings,
    durationMs,
  });
  return { status: "transformed", prefix, manifestKey, manifest, durationMs, workers };
}
