// The S3 Storage adapter and S3 event key decoding, against an in-memory S3.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { decodeS3Key, objectEvent } from "../functions/aws/s3-events.js";
import { S3Storage } from "../functions/aws/s3-storage.js";
import { eventKey, FakeS3, s3Record } from "./fixtures/aws/fake-s3.js";

process.env.AWS_REGION = "eu-west-1";
const s3 = new FakeS3();
const client = new S3Client({});
const BUCKET = "coffeetl-storage-test";
const KEYS = ["plain.csv", "uploads/leeds 2024+v2/file.csv", "uploads/Café Zoë/日本 1.csv", "a/b/c/it's \\odd.csv"];

test("S3 event keys are decoded: + is a space, then percent-decoding", () => {
  assert.is(decodeS3Key("uploads/leeds+2024%2Bv2/file.csv"), "uploads/leeds 2024+v2/file.csv");
  for (const key of KEYS) assert.is(decodeS3Key(eventKey(key)), key);
  const e = objectEvent(s3Record(BUCKET, "x y/z.csv") as never);
  assert.equal([e.bucket, e.key, e.rawKey, e.eventName], [BUCKET, "x y/z.csv", "x+y/z.csv", "ObjectCreated:Put"]);
  assert.throws(() => decodeS3Key("bad%E0%A4%A.csv"), URIError);
});

test("put (string) / get / exists / uri round-trip keys with spaces, +, unicode, quotes and folders", async () => {
  const storage = new S3Storage(client, BUCKET);
  for (const key of KEYS) {
    assert.not.ok(await storage.exists(key));
    await storage.put(key, `content of ${key}\n`, { contentType: "text/csv" });
    assert.ok(await storage.exists(key));
    const object = await storage.get(key);
    assert.is(await text(object.body), `content of ${key}\n`);
    assert.is(object.size, Buffer.byteLength(`content of ${key}\n`));
    assert.ok(object.versionId);
    assert.is(storage.uri(key), `s3://${BUCKET}/${key}`);
    const stored = s3.objects.get(`${BUCKET}/${key}`)!;
    assert.is(stored.serverSideEncryption, "AES256", "SSE-S3 by default");
    assert.is(stored.contentType, "text/csv");
  }
});

test("get pins a version; a missing key is a clear error", async () => {
  const storage = new S3Storage(client, BUCKET);
  await storage.put("versioned.csv", "one");
  const first = await storage.get("versioned.csv");
  await text(first.body);
  assert.is(await text((await storage.get("versioned.csv", { versionId: first.versionId! })).body), "one");
  await storage.put("versioned.csv", "two");
  // A versioned bucket keeps the old version (the fake too), and the pin still reads it.
  assert.is(await text((await storage.get("versioned.csv", { versionId: first.versionId! })).body), "one");
  assert.is(await text((await storage.get("versioned.csv")).body), "two");
  await storage.get("versioned.csv", { versionId: "v999999" }).then(
    () => assert.unreachable("no such version"),
    (e: Error) => assert.match(e.message, /versioned\.csv \(version v999999\): no such object/),
  );
  await storage.get("nope.csv").then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, new RegExp(`s3://${BUCKET}/nope\\.csv: no such object`)),
  );
});

test("exists: 404 is false, any other error (e.g. 403 without s3:ListBucket) is thrown", async () => {
  const storage = new S3Storage(client, BUCKET);
  s3.mock
    .on(HeadObjectCommand, { Key: "forbidden.csv" })
    .rejects(new S3ServiceException({ name: "Forbidden", $fault: "client", $metadata: { httpStatusCode: 403 }, message: "Forbidden" }));
  await storage.exists("forbidden.csv").then(
    () => assert.unreachable(),
    (e: Error) => assert.is(e.name, "Forbidden"),
  );
});

test("a streamed body of 12 MB goes up as a multipart upload with SSE-KMS, and arrives whole", async () => {
  const storage = new S3Storage(client, BUCKET, { serverSideEncryption: "aws:kms", kmsKeyId: "alias/coffeetl" });
  s3.mock.resetHistory();
  const hash = createHash("sha256");
  let size = 0;
  async function* lines() {
    for (let i = 0; size < 12 * 1024 * 1024; i++) {
      const line = Buffer.from(`${String(i).padStart(10, "0")},some,fields,here\n`);
      size += line.length;
      hash.update(line);
      yield line;
    }
  }
  await storage.put("big/transactions.csv", Readable.from(lines()), { contentType: "text/csv" });
  const creates = s3.mock.commandCalls(CreateMultipartUploadCommand).map((c) => c.args[0].input);
  assert.is(creates.length, 1);
  assert.is(creates[0]!.ServerSideEncryption, "aws:kms");
  assert.is(creates[0]!.SSEKMSKeyId, "alias/coffeetl");
  assert.is(creates[0]!.ContentType, "text/csv");
  assert.is(s3.mock.commandCalls(UploadPartCommand).length, 3, "5 MiB parts");
  assert.is(s3.mock.commandCalls(CompleteMultipartUploadCommand).length, 1);
  assert.is(s3.mock.commandCalls(PutObjectCommand).length, 0);
  const stored = s3.objects.get(`${BUCKET}/big/transactions.csv`)!;
  assert.ok(stored.multipart);
  assert.is(stored.body.length, size);
  assert.is(createHash("sha256").update(stored.body).digest("hex"), hash.digest("hex"));
});

test("a failing source stream rejects the put, aborts the multipart upload and stores nothing", async () => {
  const storage = new S3Storage(client, BUCKET);
  s3.mock.resetHistory();
  async function* failing() {
    yield Buffer.alloc(6 * 1024 * 1024, 97);
    throw new Error("source broke");
  }
  await storage.put("broken/out.csv", Readable.from(failing())).then(
    () => assert.unreachable(),
    (e: Error) => assert.match(e.message, /source broke/),
  );
  assert.not.ok(s3.objects.has(`${BUCKET}/broken/out.csv`));
  const created = s3.mock.commandCalls(CreateMultipartUploadCommand).length;
  if (created) assert.is(s3.mock.commandCalls(AbortMultipartUploadCommand).length, created);
});

test("list pages through ListObjectsV2 under a prefix", async () => {
  const storage = new S3Storage(client, "coffeetl-list-test");
  for (const k of ["p/a.csv", "p/b.csv", "p/c d.csv", "p/sub/e.csv", "q/f.csv"]) await storage.put(k, "x");
  const keys: string[] = [];
  for await (const k of storage.list("p/")) keys.push(k);
  assert.equal(keys, ["p/a.csv", "p/b.csv", "p/c d.csv", "p/sub/e.csv"]);
});

test("constructor options are checked", () => {
  assert.throws(() => new S3Storage(client, ""), /bucket name is empty/);
  assert.throws(() => new S3Storage(client, BUCKET, { kmsKeyId: "k" }), /needs serverSideEncryption aws:kms/);
  assert.throws(() => new S3Storage(client, BUCKET, { serverSideEncryption: "none" as never }), /unsupported/);
});

test.run();
