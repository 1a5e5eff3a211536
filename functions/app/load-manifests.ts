// Application service: load manifests into the warehouse in batches, one transaction each
// (docs/design.md §7, §8). Used unchanged by the load Lambda (an SQS batch of manifest events, Redshift
// Data API) and by `coffeetl ingest` (PostgreSQL). A batch whose transaction fails is split in halves
// until the failing manifest is alone: it alone fails (with a `failed` row in `file_outcomes`),
// every other one loads. Near the end of the invocation's time no new batch starts, and a batch the
// warehouse gave up for a passing reason (time, throttling, conflicts: RetryLaterError) is not
// split: those manifests, and all not yet tried, are `deferred` (returned to the queue, no `failed`
// row), to load whole on the next delivery.
import { createHash } from "node:crypto";
import { text } from "node:stream/consumers";
import { MANIFEST_FILE, parseManifest } from "../core/manifest.js";
import { TABLES } from "../core/schema.js";
import { silentLog, type Log } from "./log.js";
import {
  KeyMismatchError,
  RetryLaterError,
  type LineNotesFile,
  type LoadRequest,
  type LoadResult,
  type Storage,
  type TableFile,
  type Warehouse,
} from "./ports.js";
import { MANIFESTS_PER_TRANSACTION } from "../core/limits.js";

interface LoadDeps {
  transformed: Storage;
  warehouse: Warehouse;
  log?: Log;
  /** How to supply the right transaction-id key here, appended to a key-mismatch refusal. */
  keyHint?: string;
  /** Milliseconds left to the invocation (Lambda's `getRemainingTimeInMillis`); none: no limit. */
  remainingTimeMs?: () => number;
  /**
   * A batch after the first starts only with this much time left, or 1.5 times the longest batch
   * of this call if more (default 30 s).
   */
  minStartMs?: number;
}

export interface ManifestOutcome {
  manifestKey: string;
  ok: boolean;
  result?: LoadResult & { durationMs: number };
  error?: string;
  /** Not loaded for now (time, throttling, conflicts), nothing recorded: to be tried again soon. */
  deferred?: boolean;
}

/** A load is identified by its transformed prefix (source key + content hash). */
export const loadIdOf = (prefix: string): string => createHash("sha256").update(prefix).digest("hex");

const prefixOf = (manifestKey: string) => manifestKey.slice(0, -MANIFEST_FILE.length - 1);

async function requestFor(transformed: Storage, manifestKey: string): Promise<LoadRequest> {
  if (!manifestKey.endsWith(`/${MANIFEST_FILE}`)) throw new Error(`${manifestKey}: not a ${MANIFEST_FILE} key`);
  const prefix = prefixOf(manifestKey);
  const manifest = parseManifest(await text((await transformed.get(manifestKey)).body), manifestKey);
  const files: TableFile[] = TABLES.map((table) => {
    const key = `${prefix}/${manifest.files[table]}`;
    return { table, uri: transformed.uri(key), open: async () => (await transformed.get(key)).body };
  });
  const notes: LineNotesFile[] = [
    ["rejected", manifest.files.rejects],
    ["warning", manifest.files.warnings],
  ].flatMap(([kind, name]) => {
    if (!name) return [];
    const key = `${prefix}/${name}`;
    return [{ kind: kind as LineNotesFile["kind"], uri: transformed.uri(key), open: async () => (await transformed.get(key)).body }];
  });
  return {
    loadId: loadIdOf(prefix),
    prefix,
    manifest,
    files,
    notes,
    keyFingerprint: manifest.keyFingerprint,
    ...(manifest.source.versionId ? { sourceVersion: manifest.source.versionId } : {}),
    ...(manifest.source.order ? { sourceOrder: manifest.source.order } : {}),
  };
}

/** Consecutive runs of at most `max` requests sharing a key fingerprint and never a raw key (input order kept). */
function batchesOf(items: Array<{ index: number; request: LoadRequest }>, max: number) {
  const batches: (typeof items)[] = [];
  let current: typeof items = [];
  let keys = new Set<string>();
  for (const item of items) {
    const key = item.request.manifest.source.key;
    const fits = current.length < max && !keys.has(key) && (current.length === 0 || current[0]!.request.keyFingerprint === item.request.keyFingerprint);
    if (!fits) {
      batches.push(current);
      current = [];
      keys = new Set();
    }
    current.push(item);
    keys.add(key);
  }
  if (current.length) batches.push(current);
  return batches;
}

export async function loadManifests(deps: LoadDeps, manifestKeys: string[], options: { maxBatch?: number } = {}): Promise<ManifestOutcome[]> {
  const log = deps.log ?? silentLog;
  const outcomes: ManifestOutcome[] = manifestKeys.map((manifestKey) => ({ manifestKey, ok: false }));
  const maxBatch = Math.max(1, options.maxBatch ?? MANIFESTS_PER_TRANSACTION);

  const fail = async (index: number, error: unknown, request?: LoadRequest) => {
    const message = error instanceof KeyMismatchError && deps.keyHint ? `${error.message}. ${deps.keyHint}` : (error as Error).message;
    outcomes[index] = { manifestKey: manifestKeys[index]!, ok: false, error: message };
    log.error("load failed", { manifestKey: manifestKeys[index], error: message });
    await deps.warehouse
      .recordOutcome({
        sourceKey: request?.manifest.source.key ?? prefixOf(manifestKeys[index]!),
        ...(request?.sourceVersion ? { sourceVersion: request.sourceVersion } : {}),
        ...(request ? { sourceSha256: request.manifest.source.sha256, loadId: request.loadId } : {}),
        stage: "load",
        outcome: "failed",
        reason: message,
      })
      .catch((e: Error) => log.error("could not record the failure", { manifestKey: manifestKeys[index], error: e.message }));
  };

  // Manifests are small: read a few at a time.
  const items: Array<{ index: number; request: LoadRequest }> = [];
  for (let start = 0; start < manifestKeys.length; start += 16) {
    const slice = manifestKeys.slice(start, start + 16);
    const read = await Promise.allSettled(slice.map((key) => requestFor(deps.transformed, key)));
    for (const [i, r] of read.entries()) {
      if (r.status === "fulfilled") items.push({ index: start + i, request: r.value });
      else await fail(start + i, r.reason);
    }
  }

  let batchesStarted = 0;
  let longestMs = 0;
  let stopped: string | undefined;
  /** The first batch always starts; later ones only with time for a batch left. */
  const outOfTime = (): string | undefined => {
    if (!deps.remainingTimeMs || batchesStarted === 0) return undefined;
    const left = deps.remainingTimeMs();
    const needed = Math.max(deps.minStartMs ?? 30_000, 1.5 * longestMs);
    return left < needed ? `not started: ${Math.round(left / 1000)} s of the invocation left, a batch needs ${Math.round(needed / 1000)} s` : undefined;
  };
  /** Milliseconds on the invocation's own clock when there is one (a batch's cost in its time). */
  const now = () => (deps.remainingTimeMs ? -deps.remainingTimeMs() : Date.now());
  const defer = (batch: typeof items, reason: string) => {
    for (const b of batch) outcomes[b.index] = { manifestKey: manifestKeys[b.index]!, ok: false, deferred: true, error: reason };
    log.warn("batch returned to the queue to load later", { manifests: batch.length, reason });
  };

  const run = async (batch: typeof items): Promise<void> => {
    stopped ??= outOfTime();
    if (stopped) return defer(batch, stopped);
    batchesStarted++;
    const startedAt = Date.now();
    const clockAtStart = now();
    try {
      const results = await deps.warehouse.loadBatch(batch.map((b) => b.request));
      const durationMs = Date.now() - startedAt;
      longestMs = Math.max(longestMs, now() - clockAtStart);
      for (const [i, result] of results.entries()) {
        const { index } = batch[i]!;
        outcomes[index] = { manifestKey: manifestKeys[index]!, ok: true, result: { ...result, durationMs } };
        log.info(result.outcome.replace("_", " "), {
          manifestKey: manifestKeys[index],
          loadId: result.loadId,
          ...(result.supersededLoadId ? { supersededLoadId: result.supersededLoadId } : {}),
          ...(result.newerLoadId ? { newerLoadId: result.newerLoadId } : {}),
          rowsRead: result.rowsRead,
          transactionsNew: result.transactionsNew,
          transactionsDuplicate: result.transactionsDuplicate,
          rowsRejected: result.rowsRejected,
          warnings: result.warnings,
          batchSize: batch.length,
          durationMs,
        });
      }
    } catch (error) {
      longestMs = Math.max(longestMs, now() - clockAtStart);
      // Time, throttling or conflicts: the files are fine; the whole batch (and the rest) waits.
      if (error instanceof RetryLaterError) {
        stopped = error.message;
        return defer(batch, error.message);
      }
      // The same key refuses every manifest of the batch (they share one fingerprint): no split.
      if (batch.length === 1 || error instanceof KeyMismatchError) {
        for (const b of batch) await fail(b.index, error, b.request);
        return;
      }
      log.warn("batch failed; splitting it to isolate the failing manifest", { manifests: batch.length, error: (error as Error).message });
      const half = Math.ceil(batch.length / 2);
      await run(batch.slice(0, half));
      await run(batch.slice(half));
    }
  };
  for (const batch of batchesOf(items, maxBatch)) await run(batch);
  return outcomes;
}

/** One manifest: `loadManifests` of one key; throws its error. */
export async function loadManifest(deps: LoadDeps, manifestKey: string): Promise<LoadResult & { durationMs: number }> {
  const [outcome] = await loadManifests(deps, [manifestKey]);
  if (!outcome!.ok) throw new Error(outcome!.error);
  return outcome!.result!;
}
