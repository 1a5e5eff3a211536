// Newest version wins, whatever order its loads arrive in (issue 19 items 1 and 2): every load carries
// its version's order (S3's sequencer from the event, through the manifest; locally the file's
// modification time and content hash), and a load of an older version than its key's current one
// changes nothing and is recorded as superseded on arrival. A header-only version withdraws the day.
// Runs the extract-transform handler on an in-memory S3 and the load service on embedded PostgreSQL.
import type { Context, S3Event } from "aws-lambda";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { S3Client } from "@aws-sdk/client-s3";
import { text } from "node:stream/consumers";
import { mockClient } from "aws-sdk-client-mock";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadManifests } from "../functions/app/load-manifests.js";
import { recordTransformFailure } from "../functions/app/record-failure.js";
import { S3Storage } from "../functions/aws/s3-storage.js";
import { s3Order, fileOrder, isOlder } from "../functions/core/version-order.js";
import { PostgresWarehouse } from "../functions/local/postgres-warehouse.js";
import { captureOutput } from "./fixtures/aws/capture.js";
import { FakeS3, lambdaContext, s3Record } from "./fixtures/aws/fake-s3.js";
import { HEADER_ONLY, dayFile } from "./day-file.js";
import { tempDir } from "./helpers.js";

const RAW = "coffeetl-raw-order";
const OUT = "coffeetl-transformed-order";
const SECRET_PARAM = "/coffeetl/test/order-secret";
process.env.AWS_REGION = "eu-west-1";
process.env.TRANSFORMED_BUCKET = OUT;
process.env.TRANSACTION_ID_KEY_PARAMETER = SECRET_PARAM;
process.env.LOG_LEVEL = "ERROR";

const s3 = new FakeS3();
const ssm = mockClient(SSMClient);
ssm
  .on(GetParameterCommand, { Name: SECRET_PARAM })
  .resolves({ Parameter: { Name: SECRET_PARAM, Type: "SecureString", Value: "order-test-hmac-key-0123456789" } });
const capture = captureOutput();
const { handler } = await import("../functions/extract-transform/handler.js");
const context = lambdaContext() as unknown as Context;

/** Uploads a version of `key`; returns the event S3 would send for it (its own versionId and sequencer). */
function upload(key: string, body: string, sequencer: string) {
  s3.putText(RAW, key, body);
  const versionId = s3.versions.get(`${RAW}/${key}`)!.at(-1)!.versionId;
  const record = s3Record(RAW, key);
  Object.assign(record.s3.object, { versionId, sequencer });
  return { Records: [record] } as unknown as S3Event;
}

/** The manifest key the last transform of `key` wrote or reused. */
const manifestOf = (key: string): string => {
  const stem = key.replace(/\.csv$/, "");
  const found = s3.stored.filter((k) => k.startsWith(`${OUT}/${stem}/`) && k.endsWith("/manifest.json")).at(-1);
  if (!found) throw new Error(`no manifest for ${key}`);
  return found.slice(OUT.length + 1);
};

/** One embedded warehouse for the file (each test uses its own raw keys): PGlite takes seconds to start. */
let shared: Promise<Awaited<ReturnType<typeof openWarehouse>>> | undefined;
const warehouse = () => (shared ??= openWarehouse());

async function openWarehouse() {
  const dir = await tempDir("coffeetl-order-");
  const w = await PostgresWarehouse.open({ dataDir: dir.path });
  await w.ensureSchema();
  const transformed = new S3Storage(new S3Client({}), OUT);
  return {
    w,
    load: (keys: string[]) => loadManifests({ transformed, warehouse: w }, keys),
    sales: async (key: string) => Number((await w.query<{ n: number }>(`SELECT COUNT(*) AS n FROM transactions WHERE source_key = '${key}'`))[0]!.n),
    async close() {},
    async end() {
      await w.close();
      await dir.remove();
    },
  };
}

test("orders: S3 sequencers of different lengths compare after right-padding; local orders by time then hash", () => {
  assert.ok(isOlder(s3Order("0055AED6DCD90281E5"), s3Order("0055AED6DCD90281E6")));
  assert.ok(isOlder(s3Order("0055AED6DCD9028"), s3Order("0055AED6DCD90281E5")), "a shorter sequencer is right-padded");
  assert.not.ok(isOlder(s3Order("0055aed6dcd90281e6"), s3Order("0055AED6DCD90281E5")), "case does not matter");
  assert.ok(isOlder(fileOrder(1_700_000_000_000, "f".repeat(64)), fileOrder(1_700_000_000_001, "0".repeat(64))));
  assert.not.ok(isOlder(undefined, s3Order("01")), "an unknown order is never older");
  assert.throws(() => s3Order("x'; DROP TABLE loads; --"), /hex/);
});

test("the old message redelivered after the new one leaves the newest version (and says superseded on arrival)", async () => {
  const db = await warehouse();
  try {
    const key = "uploads/leeds/2024-03-01.csv";
    await handler(upload(key, dayFile(382), "0055AED6DCD90281E5"), context);
    const v1 = manifestOf(key);
    await handler(upload(key, dayFile(200), "0055AED6DCD90281F0"), context);
    const v2 = manifestOf(key);
    assert.is.not(v1, v2);
    const manifest = JSON.parse(s3.text(OUT, v2)) as { source: { order?: string } };
    assert.is(manifest.source.order, s3Order("0055AED6DCD90281F0"), "the event's sequencer reaches the manifest");

    assert.equal((await db.load([v1]))[0]!.result!.outcome, "loaded");
    assert.equal((await db.load([v2]))[0]!.result!.outcome, "loaded");
    assert.is(await db.sales(key), 200);
    // The queue delivers v1's message again (at least once), after v2 loaded.
    const again = (await db.load([v1]))[0]!;
    assert.ok(again.ok);
    assert.is(again.result!.outcome, "superseded");
    assert.is(again.result!.loaded, false);
    assert.is(await db.sales(key), 200, "v2 stays: 200 sales, not v1's 382");
    const [current] = await db.w.query<{ n: number }>(`SELECT COUNT(*) AS n FROM loads WHERE source_key = '${key}' AND superseded_by IS NULL`);
    assert.is(Number(current!.n), 1);
    const [latest] = await db.w.query<{ outcome: string; reason: string }>(
      `SELECT outcome, reason FROM file_outcomes WHERE source_key = '${key}' ORDER BY recorded_at DESC LIMIT 1`,
    );
    assert.is(latest!.outcome, "superseded");
    assert.match(latest!.reason, /superseded on arrival/);

    // v1 arriving first and v2 later, in one batch each way round: the same end.
    const items = await db.w.query<{ n: number }>(
      `SELECT COUNT(*) AS n FROM transaction_items i WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.transaction_id = i.transaction_id)`,
    );
    assert.is(Number(items[0]!.n), 0, "no orphan item");
  } finally {
    await db.close();
  }
});

test("a DLQ redrive of an old version's transform event, after the new version loaded, changes nothing", async () => {
  const db = await warehouse();
  try {
    const key = "uploads/york/2024-03-01.csv";
    const oldEvent = upload(key, dayFile(50, "York"), "0100000000000000A0");
    // The old version's transform failed (parked in the dead-letter queue); the new one went through.
    await handler(upload(key, dayFile(30, "York"), "0100000000000000B0"), context);
    assert.is((await db.load([manifestOf(key)]))[0]!.result!.outcome, "loaded");
    // After a fix, `coffeetl redrive` re-invokes the parked event: its version is read and transformed...
    await handler(oldEvent, context);
    const old = manifestOf(key);
    assert.is((JSON.parse(s3.text(OUT, old)) as { rowsRead: number }).rowsRead, 50);
    // ...and its manifest's load arrives last.
    const redriven = (await db.load([old]))[0]!;
    assert.is(redriven.result!.outcome, "superseded");
    assert.is(await db.sales(key), 30);

    // The same content as the old version uploaded again later is the newest now: it loads.
    await handler(upload(key, dayFile(50, "York"), "0100000000000000C0"), context);
    const reloaded = (await db.load([manifestOf(key)]))[0]!;
    assert.is(reloaded.result!.outcome, "loaded");
    assert.is(await db.sales(key), 50);
  } finally {
    await db.close();
  }
});

test("retraction: a header-only new version withdraws the day's sales (status: withdrawn); an empty file still fails", async () => {
  const db = await warehouse();
  try {
    const key = "uploads/hull/2024-03-01.csv";
    await handler(upload(key, dayFile(40, "Hull"), "0200000000000000A0"), context);
    await db.load([manifestOf(key)]);
    assert.is(await db.sales(key), 40);
    await handler(upload(key, HEADER_ONLY, "0200000000000000B0"), context);
    const withdrawn = (await db.load([manifestOf(key)]))[0]!;
    assert.ok(withdrawn.ok, withdrawn.error);
    assert.is(withdrawn.result!.outcome, "withdrawn");
    assert.is(await db.sales(key), 0);
    const [items] = await db.w.query<{ n: number }>(`SELECT COUNT(*) AS n FROM transaction_items`);
    const [sales] = await db.w.query<{ n: number }>(`SELECT COUNT(*) AS n FROM transactions`);
    assert.ok(Number(items!.n) >= Number(sales!.n), "items of other files stay");
    const [latest] = await db.w.query<{ outcome: string }>(`SELECT outcome FROM file_outcomes WHERE source_key = '${key}' ORDER BY recorded_at DESC LIMIT 1`);
    assert.is(latest!.outcome, "withdrawn");

    // A file with nothing in it is an upload gone wrong, not a retraction: it fails, the day stays.
    const other = "uploads/hull/2024-03-02.csv";
    await handler(upload(other, dayFile(10, "Hull"), "0300000000000000A0"), context);
    await db.load([manifestOf(other)]);
    const failure = await handler(upload(other, "\n\n", "0300000000000000B0"), context).then(
      () => "",
      (e: Error) => e.message,
    );
    assert.match(failure, /no data rows/);
    assert.is(await db.sales(other), 10);
  } finally {
    await db.close();
  }
});

test("AWS: a raw key too long for its outputs is refused with a failed.json the load records in file_outcomes", async () => {
  const db = await warehouse();
  const key = `uploads/${"d".repeat(1000)}/day.csv`;
  // Refused before it is read: the handler reports it (no retry could help) and writes why.
  const summary = await handler(upload(key, dayFile(5), "0400000000000000A0"), context);
  assert.is(summary.refused, 1);
  const failed = s3.keys(OUT).filter((k) => k.startsWith("_refused/") && k.endsWith("/failed.json"));
  assert.is(failed.length, 1, "written under a short prefix of its own");
  assert.ok(failed[0]!.length < 100);
  const written = JSON.parse(await text((await new S3Storage(new S3Client({}), OUT).get(failed[0]!)).body)) as { reason: string };
  assert.match(written.reason, /S3 keys are at most 1024/);
  const outcome = await recordTransformFailure({ transformed: new S3Storage(new S3Client({}), OUT), warehouse: db.w }, failed[0]!);
  assert.is(outcome.outcome, "failed");
  const [row] = await db.w.query<{ source_key: string; reason: string }>(
    `SELECT source_key, reason FROM file_outcomes WHERE reason LIKE '%S3 keys are at most%'`,
  );
  assert.ok(row, "recorded");
  assert.ok(Buffer.byteLength(row!.source_key) <= 1024 && row!.source_key.startsWith("uploads/ddd"));
});

test.after(async () => {
  capture.stop();
  if (shared) await (await shared).end();
});
test.run();
