// The AWS handlers against moto (tests/fixtures/aws/moto.ts): the stack's buckets, queues and
// parameters as infra/ names them; the extract-transform handler on moto's own S3 notification
// events; the load handler on the load queue's messages, its batchItemFailures driving real receive
// counts into the load dead-letter queue. Only the Redshift Data API is the stand-in (moto has none).
import { readFileSync } from "node:fs";
import { DeleteBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { Context } from "aws-lambda";
import { parse as parseCsv } from "csv-parse/sync";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MAX_RAW_KEY_BYTES, TRANSFORMED_KEY_EXTRA_BYTES } from "../functions/core/manifest.js";
import { captureOutput } from "./fixtures/aws/capture.js";
import { FakeRedshift } from "./fixtures/aws/fake-redshift.js";
import { lambdaContext } from "./fixtures/aws/fake-s3.js";
import { BASE_CONFIG, createMotoStack, motoMissing, motoPipeline, startMoto, type MotoStack } from "./fixtures/aws/moto.js";

const missing = motoMissing();
if (missing) {
  console.log(`[skip] moto suites: ${missing}`);
  test.skip("handlers against moto", () => {});
  test.run();
} else {
  await suite();
}

async function suite() {
  process.env.LOG_LEVEL = "WARN";
  process.env.POWERTOOLS_SERVICE_NAME = "coffeetl-moto";
  const moto = await startMoto();
  const setupStarted = Date.now();
  const stack: MotoStack = await createMotoStack({ ...BASE_CONFIG, uploaderBranches: '{"york":["York","York Minster"]}' });
  console.log(`moto: ready in ${moto.startupMs} ms, stack created in ${Date.now() - setupStarted} ms`);
  process.env.TRANSFORMED_BUCKET = stack.transformedBucket;
  process.env.TRANSACTION_ID_KEY_PARAMETER = stack.layout.transactionIdKeyParameter;
  process.env.WAREHOUSE_PARAMETER_NAME = String(stack.outputs.warehouseParameterName);
  process.env.UPLOADER_BRANCHES = JSON.stringify({ york: ["York", "York Minster"] });

  const s3 = new S3Client({});
  const redshift = new FakeRedshift();
  redshift.runningPolls = 0;
  const capture = captureOutput();
  const transform = (await import("../functions/extract-transform/handler.js")).handler;
  const load = (await import("../functions/load/handler.js")).handler;
  const context = lambdaContext() as unknown as Context;
  const leeds = readFileSync(new URL("./fixtures/aws/leeds-raw.csv", import.meta.url));

  const { receive, depth, rawEvents, drainLoadQueue } = motoPipeline(stack, { load, context });

  const outcomeSqls = () =>
    redshift.mock
      .calls()
      .flatMap((c) => {
        const input = c.args[0].input as { Sql?: string; Sqls?: string[] };
        return input.Sqls ?? (input.Sql ? [input.Sql] : []);
      })
      .filter((s) => s.includes("INSERT INTO file_outcomes"));

  test("an upload's notification from moto (key %2F-encoded, no versionId) is transformed, its manifest queued and loaded", async () => {
    const key = "uploads/leeds/day one/2024-05-01.csv";
    const put = await s3.send(new PutObjectCommand({ Bucket: stack.rawBucket, Key: key, Body: leeds }));
    const events = await rawEvents();
    assert.is(events.length, 1);
    assert.match(events[0]!.Records[0]!.s3.object.key, /%2F/, "moto encodes / as %2F (AWS does not): decoded all the same");
    assert.not.ok(events[0]!.Records[0]!.s3.object.versionId, "moto sends no versionId: the handler reads the latest");
    const summary = await transform(events[0]!, context);
    assert.equal(summary, { transformed: 1, alreadyTransformed: 0, skipped: 0, refused: 0 });
    const responses = await drainLoadQueue();
    assert.equal(
      responses.map((r) => r.batchItemFailures),
      [[]],
    );
    const loaded = [...redshift.loads.values()];
    assert.is(loaded.length, 1);
    assert.is(loaded[0]!.source_key, key);
    assert.ok(
      redshift.loadBatches()[0]!.Sqls!.some((q) => q.includes(`'${put.VersionId}'`)),
      "the load names the version the transform read",
    );
    assert.is(await depth(stack.loadQueueUrl), 0);
  });

  test("a manifest that keeps failing is received maxReceives times, then moto parks it in the load dead-letter queue", async () => {
    await s3.send(new PutObjectCommand({ Bucket: stack.rawBucket, Key: "uploads/leeds/2024-05-02.csv", Body: Buffer.concat([leeds, Buffer.from("\n")]) }));
    for (const event of await rawEvents()) await transform(event, context);
    for (let i = 0; i < 10; i++) redshift.plannedBatches.push({ Status: "FAILED", Error: "ERROR: Disk Full" });
    const responses = await drainLoadQueue();
    redshift.plannedBatches.length = 0;
    assert.is(responses.length, stack.layout.maxReceives, "one delivery per receive, up to maxReceiveCount");
    assert.ok(responses.every((r) => r.batchItemFailures.length === 1));
    assert.is(await depth(stack.loadQueueUrl), 0);
    const parked = await receive(stack.loadDeadLetterQueueUrl);
    assert.is(parked.length, 1);
    assert.match(parked[0]!.Body!, /manifest\.json/);
    assert.is(Number(parked[0]!.Attributes!.ApproximateReceiveCount) >= 1, true);
  });

  test("uploads/york/ holding Leeds rows: those rows are rejected with the reason, York's loaded; other keys unaffected", async () => {
    const york = Buffer.from(leeds.toString().replace(/,Leeds,/g, ",York,"));
    const mixed = Buffer.concat([york, leeds]);
    await s3.send(new PutObjectCommand({ Bucket: stack.rawBucket, Key: "uploads/york/2024-05-01.csv", Body: mixed }));
    await s3.send(new PutObjectCommand({ Bucket: stack.rawBucket, Key: "backfill/2024-05-01.csv", Body: mixed }));
    for (const event of await rawEvents()) await transform(event, context);
    await drainLoadQueue();
    const rows = [...redshift.loads.values()];
    const yorkRow = rows.find((r) => r.source_key === "uploads/york/2024-05-01.csv")!;
    const other = rows.find((r) => r.source_key === "backfill/2024-05-01.csv")!;
    const leedsLines = leeds
      .toString()
      .split("\n")
      .filter((l) => l.includes(",Leeds,")).length;
    assert.ok(leedsLines > 0);
    const leedsAlone = rows.find((r) => r.source_key === "uploads/leeds/day one/2024-05-01.csv")!;
    // Leeds rows with another problem are rejected either way; every other Leeds row only here.
    assert.is(
      Number(yorkRow.rows_rejected) - Number(other.rows_rejected),
      leedsLines - Number(leedsAlone.rows_rejected),
      "every Leeds row of the York upload rejected",
    );
    assert.is(Number(yorkRow.transactions_new), Number(other.transactions_new) / 2, "the York rows, and only they, loaded");
    assert.ok(Number(yorkRow.transactions_new) > 0, "York's rows loaded");
    // The reason, as the rejects file gives it to `coffeetl rejects`.
    const listed = await import("../functions/aws/s3-storage.js");
    const storage = new listed.S3Storage(s3, stack.transformedBucket);
    const keys: string[] = [];
    for await (const k of storage.list("uploads/york/2024-05-01/")) keys.push(k);
    const rejects = await (
      await s3.send(new GetObjectCommand({ Bucket: stack.transformedBucket, Key: keys.find((k) => k.endsWith("/rejects.csv"))! }))
    ).Body!.transformToString();
    const reasons = (parseCsv(rejects, { columns: true }) as { reason: string }[]).map((r) => r.reason);
    assert.ok(reasons.includes('branch "Leeds" is not one this uploader may send (its branches: York, York Minster)'), reasons.join("\n"));
  });

  test(`a raw key too long for its outputs (over ${MAX_RAW_KEY_BYTES} bytes) is refused with its reason in file_outcomes`, async () => {
    assert.is(TRANSFORMED_KEY_EXTRA_BYTES, 35);
    // moto does not enforce S3's 1024-byte limit; the key is one AWS would accept as raw, refuse as transformed.
    const long = `uploads/leeds/${"x".repeat(1000 - "uploads/leeds/".length - 4)}.csv`;
    assert.is(Buffer.byteLength(long), 1000);
    await s3.send(new PutObjectCommand({ Bucket: stack.rawBucket, Key: long, Body: leeds }));
    const events = await rawEvents();
    const summary = await transform(events[0]!, context);
    assert.equal(summary, { transformed: 0, alreadyTransformed: 0, skipped: 0, refused: 1 });
    await drainLoadQueue();
    const recorded = outcomeSqls().filter((s) => s.includes(long));
    assert.is(recorded.length, 1, "one file_outcomes row, with the whole raw key");
    assert.match(recorded[0]!, /raw key is 1000 bytes; at most 989 fit/);
    // A key at the limit still transforms.
    const fits = `uploads/leeds/${"y".repeat(MAX_RAW_KEY_BYTES - "uploads/leeds/".length - 4)}.csv`;
    await s3.send(new PutObjectCommand({ Bucket: stack.rawBucket, Key: fits, Body: leeds }));
    const ok = await transform((await rawEvents())[0]!, context);
    assert.is(ok.transformed, 1);
  });

  test("a missing bucket is named as such, and exists() does not answer false for it", async () => {
    const { S3Storage } = await import("../functions/aws/s3-storage.js");
    const gone = "coffeetl-moto-gone-bucket";
    await s3.send(
      new (await import("@aws-sdk/client-s3")).CreateBucketCommand({ Bucket: gone, CreateBucketConfiguration: { LocationConstraint: "eu-west-2" } }),
    );
    await s3.send(new DeleteBucketCommand({ Bucket: gone }));
    const storage = new S3Storage(s3, gone);
    await storage.get("a.csv").then(
      () => assert.unreachable(),
      (e: Error) => assert.match(e.message, /coffeetl-moto-gone-bucket: no such bucket/),
    );
    await storage.exists("a.csv").then(
      () => assert.unreachable("answered for a missing bucket"),
      (e: Error) => assert.match(e.message, /no such bucket/),
    );
    assert.is(await new S3Storage(s3, stack.transformedBucket).exists("nothing/here.json"), false, "a missing key in a bucket that exists is still false");
  });

  test.after(async () => {
    redshift.mock.restore();
    capture.stop();
    await moto.stop();
  });
  test.run();
}
