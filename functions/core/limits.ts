// The limits that shape batches and memory, in one place (docs/design.md §14 lists every knob with
// its reader). Each says its unit, and the measurement or the outside limit that set it. They sit in
// core, the bottom layer, so the Lambda handlers, the local pipeline, the CLI and the stack's
// defaults (infra/config.ts) read the same number.

// ---- Load batches -----------------------------------------------------------------------------

/**
 * Manifests per warehouse transaction on AWS (manifests): the load Lambda's default and the stack's
 * `coffeetl:loadManifestsPerTransaction` default, which reaches the Lambda as
 * LOAD_MANIFESTS_PER_TRANSACTION. One transaction's SQL must stay inside the Data API's 100 KB per
 * batch (§8); it matches the queue's default `loadBatchSize` of 100, so one invocation is one transaction.
 */
export const MANIFESTS_PER_TRANSACTION = 100;

/**
 * Manifests per warehouse transaction locally (manifests; `$COFFEETL_LOAD_BATCH` overrides it).
 * Larger than on AWS on purpose: there is no Data API size limit locally, so a backfill is bounded by
 * its sales (LOCAL_BATCH_SALES) instead and pays the per-transaction cost fewer times.
 */
export const LOCAL_MANIFESTS_PER_TRANSACTION = 500;

/** Sales per local load transaction (sales): batches stay a few seconds long and memory stays flat. */
export const LOCAL_BATCH_SALES = 200_000;

// ---- The embedded warehouse -----------------------------------------------------------------------

/**
 * How long the warm warehouse's keeper waits for a home's next command before it closes the
 * warehouse and exits (seconds; `$COFFEETL_WARM_SECONDS` overrides, 0 keeps none). Long enough for
 * a day's session of commands (ingest, status, sql); an idle keeper holds about 100 MB.
 */
export const WARM_IDLE_SECONDS = 300;

// ---- File sizes: how a file is read and transformed ----------------------------------------------
// A branch's day file is about 50 KB, so every file of daily use is under all of these: read whole,
// transformed on the main thread, several at once locally, in one light-ingest process.

/**
 * Objects up to this size are read whole before the transform on AWS (bytes, 2 MB); larger ones
 * stream in flat memory. Measured (bench/handler-memory.ts): a 2 MB file whole peaks at the RSS of
 * an 8 MB one streamed; an 8 MB one whole, 50 MB above it.
 */
export const WHOLE_OBJECT_BYTES = 2 * 1024 * 1024;

/** Local objects up to this size are read whole in one call (bytes, 1 MB). Not measured: every day file fits. */
export const WHOLE_READ_BYTES = 1024 * 1024;

/**
 * Local files under this size are transformed SMALL_FILES_AT_ONCE at a time (bytes, 1 MB; a branch's
 * day is ~50 KB); larger ones one by one, each with the whole machine.
 */
export const SMALL_FILE_BYTES = 1024 * 1024;
/** Small files transformed at once locally (files). */
export const SMALL_FILES_AT_ONCE = 4;

/**
 * Up to this many bytes of input (bytes, 8 MB: about 160 branch-days, 50,000 sales), `coffeetl ingest`
 * starts the embedded warehouse light (functions/local/postgres-warehouse.ts). Measured on the
 * 153-file backfill (7 MB, 2 rounds): the same CPU either way (9.1-10.8 s against 10.0-10.8 s) and
 * 180 MB less memory light; at 100,000 sales V8's optimizing tier pays for itself (Liftoff alone
 * loaded 1.4x slower).
 */
export const LIGHT_INGEST_BYTES = 8 * 1024 * 1024;

/** PGlite's COPY reads a whole Blob: the load feeds it slices of this size, cut at line ends (bytes, 4 MB). Not measured. */
export const COPY_SLICE_BYTES = 4 * 1024 * 1024;
