// Application service: transform one raw object into its transformed prefix (DESIGN section 4).
// Used unchanged by the extract-transform Lambda (S3) and by `coffeetl ingest` (folders).
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { buffer, text } from "node:stream/consumers";
import { UnreadableFileError } from "../core/errors.js";
import {
  FAILURE_FILE,
  MANIFEST_FILE,
  OUTPUT_FILES,
  REJECTS_FILE,
  TRANSFORM_VERSION,
  WARNINGS_FILE,
  parseManifest,
  transformedPrefix,
  type Manifest,
} from "../core/manifest.js";
import { keyFingerprint } from "../core/keys.js";
import { transform, workersFor } from "../core/transform.js";
import { silentLog, type Log } from "./log.js";
import type { Storage } from "./ports.js";

export interface TransformDeps {
  raw: Storage;
  transformed: Storage;
  /** Key of the transaction-id HMAC. */
  secret: string | Buffer;
  log?: Log;
  /** Worker threads for the transform; by default as many as help for the object's size. */
  workers?: number | undefined;
  /** Sales remembered to number identical ones within a file (default `OCCURRENCE_WINDOW`). */
  occurrenceWindow?: number;
  /** Called with bytes read so far, for progress display. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
}

export interface TransformOutcome {
  /** `skipped` when this exact content was already transformed (a redelivered event). */
  status: "transformed" | "skipped";
  prefix: string;
  manifestKey: string;
  manifest: Manifest;
  durationMs: number;
  /** Worker threads the transform used (0: the calling thread; also when skipped). */
  workers: number;
}

async function sha256Of(body: Readable): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of body) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * Objects up to this size (a branch's day is ~50 KB) are read once and their outputs written
 * whole: one GET and one PUT per object instead of two reads and streamed uploads, which for
 * small files cost more than the transform itself. Larger ones stream, in flat memory (measured:
 * a 2 MB file whole peaks at the RSS of an 8 MB one streamed; an 8 MB one whole, 50 MB above it).
 */
const WHOLE_OBJECT_BYTES = 2 * 1024 * 1024;

export interface TransformObjectOptions {
  /** The raw object's version to read (the S3 event's `versionId`); the latest when omitted. */
  versionId?: string;
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

  const fingerprint = keyFingerprint(deps.secret);
  if (await transformed.exists(manifestKey)) {
    // Reused only when keyed with this key: after a key change (the warehouse's key given at last)
    // the same content is transformed again, so its ids are the warehouse's.
    const manifest = await text((await transformed.get(manifestKey)).body).then(
      (t) => parseManifest(t, manifestKey),
      () => undefined,
    ).catch(() => undefined);
    if (manifest?.keyFingerprint === fingerprint) {
      log.info("already transformed", { key, prefix });
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
  const run = transform(input, { secret: deps.secret, sourceKey: key, workers, occurrenceWindow: deps.occurrenceWindow });
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
      // Recorded beside where the manifest would be, so the failure is visible and replayable. On
      // AWS its arrival sends it to the load, which records it in file_outcomes (record-failure.ts):
      // a retry finding the same reason there leaves it as it is, so it is recorded once.
      const failureKey = `${prefix}/${FAILURE_FILE}`;
      const earlier = await transformed
        .exists(failureKey)
        .then(async (found) => (found ? (JSON.parse(await text((await transformed.get(failureKey)).body)) as { reason?: unknown }) : undefined))
        .catch(() => undefined);
      if (earlier?.reason !== error.reason) {
        const failure = { source: { bucket: raw.name, key, sha256, versionId: versionId ?? null }, reason: error.reason, failedAt: new Date().toISOString() };
        await transformed.put(failureKey, JSON.stringify(failure, null, 2) + "\n", { contentType: "application/json" });
      }
      log.error("file unreadable", { key, reason: error.reason });
      throw new UnreadableFileError(`${key}: ${error.reason}`);
    }
    throw error;
  }

  const manifest: Manifest = {
    source: { bucket: raw.name, key, versionId: versionId ?? null, size: first.size, sha256 },
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
    duplicatesInFile: manifest.duplicatesInFile,
    warnings: manifest.warnings,
    durationMs,
  });
  return { status: "transformed", prefix, manifestKey, manifest, durationMs, workers };
}
