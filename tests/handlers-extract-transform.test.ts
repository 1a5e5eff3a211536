// The extract-transform Lambda handler against an in-memory S3 and a mocked SSM (no AWS here).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { CreateMultipartUploadCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { GetParameterCommand, ParameterNotFound, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import type { Context, S3Event } from "aws-lambda";
import { parse as parseCsv } from "csv-parse/sync";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { COLUMNS, TABLES } from "../functions/core/schema.js";
import type { Manifest } from "../functions/core/manifest.js";
import { captureOutput } from "./fixtures/aws/capture.js";
import { FakeS3, lambdaContext, s3Event, s3Record } from "./fixtures/aws/fake-s3.js";

const RAW = "coffeetl-raw-test";
const OUT = "coffeetl-transformed-test";
const SECRET_PARAM = "/coffeetl/test/transaction-secret";
process.env.AWS_REGION = "eu-west-1";
process.env.TRANSFORMED_BUCKET = OUT;
process.env.TRANSACTION_ID_KEY_PARAMETER = SECRET_PARAM;
process.env.POWERTOOLS_SERVICE_NAME = "coffeetl-extract-transform-test";
process.env.LOG_LEVEL = "INFO";

const fixture = readFileSync(new URL("./fixtures/aws/leeds-raw.csv", import.meta.url));
const rawRows = parseCsv(fixture, { relax_column_count: true }) as string[][];
const PII = [...new Set(rawRows.flatMap((r) => [r[2]!, r[6]!]).filter((x) => x && x.length > 0))];
const KEY = "uploads/leeds 2024+v2/file.csv";
const PREFIX = `uploads/leeds 2024+v2/file/${createHash("sha256").update(fixture).digest("hex").slice(0, 16)}`;

const s3 = new FakeS3();
const ssm = mockClient(SSMClient);
ssm
  .on(GetParameterCommand, { Name: SECRET_PARAM })
  .resolves({ Parameter: { Name: SECRET_PARAM, Type: "SecureString", Value: "test-hmac-key-0123456789abcdef" } });
ssm.on(GetParameterCommand, { Name: "/coffeetl/test/missing" }).rejects(new ParameterNotFound({ message: "", $metadata: {} }));

const capture = captureOutput();
const errors: string[] = [];
const { handler } = await import("../functions/extract-transform/handler.js");
const context = lambdaContext() as unknown as Context;
async function invoke(event: unknown) {
  try {
    return await handler(event as S3Event, context);
  } catch (error) {
    errors.push(String((error as Error).message));
    throw error;
  }
}

s3.putText(RAW, KEY, fixture);

test("an ObjectCreated event for a URL-encoded key writes the table files, then the manifest, under <key without .csv>/<hash>/", async () => {
  const event = s3Event(RAW, KEY);
  assert.is(event.Records[0]!.s3.object.key, "uploads/leeds+2024%2Bv2/file.csv", "sent form-encoded, as S3 does");
  const summary = await invoke(event);
  assert.equal(summary, { transformed: 1, alreadyTransformed: 0, skipped: 0, refused: 0 });

  const written = s3.stored.filter((k) => k.startsWith(`${OUT}/`)).map((k) => k.slice(OUT.length + 1));
  assert.equal(
    [...written].sort(),
    ["branches.csv", "manifest.json", "products.csv", "rejects.csv", "transaction_items.csv", "transactions.csv", "warnings.csv"].map((f) => `${PREFIX}/${f}`),
  );
  assert.is(written.at(-1), `${PREFIX}/manifest.json`, "manifest.json is the last object written");

  const gets = s3.mock.commandCalls(GetObjectCommand).map((c) => c.args[0].input);
  assert.ok(gets.length >= 1 && gets.every((g) => g.Bucket === RAW && g.Key === KEY), "reads the decoded key from the event's bucket");
  assert.ok(
    gets.slice(1).every((g) => g.VersionId),
    "the second read is pinned to the version hashed",
  );

  for (const key of written) {
    const object = s3.objects.get(`${OUT}/${key}`)!;
    assert.is(object.serverSideEncryption, "AES256", `${key} is server-side encrypted`);
    assert.ok(object.contentType, `${key} has a content type`);
  }
});

test("table files have exactly the schema's columns, and every sale of the file is in transactions.csv", () => {
  for (const table of TABLES) {
    const text = s3.text(OUT, `${PREFIX}/${table}.csv`);
    const [header, ...rows] = parseCsv(text, { relax_column_count: true }) as string[][];
    assert.equal(header, [...COLUMNS[table]], `${table}.csv header`);
    for (const row of rows) assert.is(row.length, COLUMNS[table].length, `${table}.csv row width`);
  }
  const transactions = parseCsv(s3.text(OUT, `${PREFIX}/transactions.csv`), { columns: true }) as Record<string, string>[];
  const sales = rawRows.filter((r) => !r[0]!.startsWith("31/13/"));
  assert.is(transactions.length, sales.length);
  const expected = sales.map((r) => {
    const [d, t] = r[0]!.split(" ");
    const [dd, mm, yyyy] = d!.split("/");
    return `${yyyy}-${mm}-${dd} ${t}:00|${r[4]}|${r[5]}`;
  });
  const got = transactions.map((t) => `${t.transaction_time}|${t.total_amount}|${t.payment_method}`);
  assert.equal([...got].sort(), [...expected].sort());
  assert.ok(transactions.every((t) => t.source_key === KEY && /^[0-9a-f]{32}$/.test(t.transaction_id!)));

  const items = parseCsv(s3.text(OUT, `${PREFIX}/transaction_items.csv`), { columns: true }) as Record<string, string>[];
  assert.ok(
    items.some((i) => i.quantity === "2"),
    "the repeated tea became a quantity",
  );
  const rejects = s3.text(OUT, `${PREFIX}/rejects.csv`);
  assert.match(rejects, /^line_number,reason\n7,/);

  const manifest = JSON.parse(s3.text(OUT, `${PREFIX}/manifest.json`)) as Manifest;
  assert.is(manifest.source.bucket, RAW);
  assert.is(manifest.source.key, KEY);
  assert.is(manifest.source.sha256, createHash("sha256").update(fixture).digest("hex"));
  assert.ok(manifest.source.versionId, "the raw version is recorded");
  assert.is(manifest.rowsRead, 8);
  assert.is(manifest.rejected, 1);
  assert.is(manifest.warnings, 1);
  assert.is(manifest.rows.transactions, 7);
});

test("nothing written to the transformed bucket holds a customer name or card number", () => {
  for (const key of s3.keys(OUT)) {
    const text = s3.text(OUT, key);
    for (const secret of PII) assert.not.ok(text.includes(secret), `${key} must not contain personal data`);
  }
});

test("a redelivered event is acknowledged without writing the outputs again", async () => {
  const before = s3.stored.length;
  const summary = await invoke(s3Event(RAW, KEY));
  assert.equal(summary, { transformed: 0, alreadyTransformed: 1, skipped: 0, refused: 0 });
  assert.is(s3.stored.length, before);
});

test("a day file is read once (one GetObject) and each output stored whole (one PutObject each, no multipart)", async () => {
  const key = "uploads/kendal/2024-05-02.csv";
  s3.putText(RAW, key, fixture.toString("utf8").replace(/Leeds/g, "Kendal"));
  s3.mock.resetHistory();
  assert.equal(await invoke(s3Event(RAW, key)), { transformed: 1, alreadyTransformed: 0, skipped: 0, refused: 0 });
  const gets = s3.mock.commandCalls(GetObjectCommand).filter((c) => c.args[0].input.Bucket === RAW);
  assert.is(gets.length, 1, "the hash and the transform share one read");
  const puts = s3.mock.commandCalls(PutObjectCommand).filter((c) => c.args[0].input.Bucket === OUT);
  assert.is(puts.length, 7, "six table files and the manifest");
  assert.is(s3.mock.commandCalls(CreateMultipartUploadCommand).length, 0);
});

test("a .txt upload and a delete event are skipped without reading the object; .CSV in capitals is not", async () => {
  s3.putText(RAW, "uploads/notes.txt", "Zebedee Quillfeather 4929111122223333\n");
  s3.mock.resetHistory();
  ssm.resetHistory();
  const summary = await invoke({
    Records: [s3Record(RAW, "uploads/notes.txt"), s3Record(RAW, "uploads/old.csv", "ObjectRemoved:Delete"), s3Record(RAW, "uploads/readme.csv.txt")],
  });
  assert.equal(summary, { transformed: 0, alreadyTransformed: 0, skipped: 3, refused: 0 });
  assert.is(s3.mock.commandCalls(GetObjectCommand).length, 0, "no GetObject for skipped records");
  assert.is(ssm.commandCalls(GetParameterCommand).length, 0);
  const skips = capture.lines().filter((l) => l.message === "skipped");
  assert.ok(skips.some((l) => l.key === "uploads/notes.txt" && l.reason === "not a .csv key"));
  assert.ok(skips.some((l) => l.key === "uploads/old.csv" && l.reason === "not an ObjectCreated event"));

  s3.putText(RAW, "uploads/Leeds Ünïcode/DAY 2.CSV", fixture);
  const upper = await invoke(s3Event(RAW, "uploads/Leeds Ünïcode/DAY 2.CSV"));
  assert.is(upper.transformed, 1);
  assert.ok(s3.keys(OUT).some((k) => k.startsWith("uploads/Leeds Ünïcode/DAY 2/") && k.endsWith("/manifest.json")));
});

test("the event's versionId is the version read: an older version's event transforms that version", async () => {
  const key = "uploads/york/2024-05-01.csv";
  const first = fixture.toString("utf8").replace(/Leeds/g, "York");
  s3.putText(RAW, key, first);
  const v1 = s3.objects.get(`${RAW}/${key}`)!.versionId;
  s3.putText(RAW, key, first.replace(/York/g, "Yorkshire")); // a re-upload: a new current version
  const event = s3Event(RAW, key);
  (event.Records[0]!.s3.object as { versionId?: string }).versionId = v1;
  s3.mock.resetHistory();
  await invoke(event);
  const gets = s3.mock
    .commandCalls(GetObjectCommand)
    .map((c) => c.args[0].input)
    .filter((g) => g.Bucket === RAW);
  assert.ok(gets.length >= 1 && gets.every((g) => g.VersionId === v1), "every read pinned to the event's version");
  const hash = createHash("sha256").update(first).digest("hex").slice(0, 16);
  const manifest = JSON.parse(s3.text(OUT, `uploads/york/2024-05-01/${hash}/manifest.json`)) as Manifest;
  assert.is(manifest.source.versionId, v1);
});

test("every record is processed; an unreadable file records failed.json and the event still fails (so it reaches the DLQ)", async () => {
  s3.putText(RAW, "uploads/broken.csv", Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x01, 0x02]));
  s3.putText(RAW, "uploads/york/2024-05-02.csv", fixture.toString().replace(/Leeds/g, "York"));
  const error = await invoke({ Records: [s3Record(RAW, "uploads/broken.csv"), s3Record(RAW, "uploads/york/2024-05-02.csv")] }).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.ok(error, "the handler throws");
  assert.is(error!.name, "RecordsFailedError");
  assert.match(error!.message, /1 of 2 record\(s\) failed: uploads\/broken\.csv: UnreadableFileError/);
  const failedKey = s3.keys(OUT).find((k) => k.startsWith("uploads/broken/") && k.endsWith("/failed.json"));
  assert.ok(failedKey, "failed.json recorded");
  const written = s3.text(OUT, failedKey!);
  const failure = JSON.parse(written);
  assert.equal(Object.keys(failure.source), ["bucket", "key", "sha256", "versionId"]);
  assert.equal([failure.source.key, typeof failure.reason, typeof failure.failedAt], ["uploads/broken.csv", "string", "string"]);
  // A retry leaves an unchanged failure as it is: no new event, so the load records it once.
  await new Promise((r) => setTimeout(r, 5));
  await invoke({ Records: [s3Record(RAW, "uploads/broken.csv")] }).then(
    () => assert.unreachable("still fails"),
    () => undefined,
  );
  assert.is(s3.text(OUT, failedKey!), written, "failed.json not rewritten");
  assert.not.ok(s3.keys(OUT).some((k) => k.startsWith("uploads/broken/") && k.endsWith("/manifest.json")));
  assert.ok(
    s3.keys(OUT).some((k) => k.startsWith("uploads/york/2024-05-02/") && k.endsWith("/manifest.json")),
    "the other record was transformed",
  );
});

test("a missing secret parameter fails with an error naming it", async () => {
  process.env.TRANSACTION_ID_KEY_PARAMETER = "/coffeetl/test/missing";
  s3.putText(RAW, "uploads/new.csv", fixture.toString().replace(/Leeds/g, "Hull"));
  try {
    const error = await invoke(s3Event(RAW, "uploads/new.csv")).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(error);
    assert.match(error!.message, /SSM parameter "\/coffeetl\/test\/missing" does not exist/);
  } finally {
    process.env.TRANSACTION_ID_KEY_PARAMETER = SECRET_PARAM;
  }
});

test("logs are structured JSON with keys, counts and durations, and hold no customer name or card number", () => {
  const lines = capture.lines();
  const done = lines.find((l) => l.message === "transformed" && l.key === KEY);
  assert.ok(done, "one 'transformed' line for the file");
  assert.is(done!.rowsRead, 8);
  assert.is(done!.transactions, 7);
  assert.type(done!.durationMs, "number");
  assert.is(done!.service, "coffeetl-extract-transform-test");
  assert.ok(lines.some((l) => l.message === "file unreadable" && l.key === "uploads/broken.csv"));
  const everything = capture.text() + errors.join("\n");
  for (const secret of PII) assert.not.ok(everything.includes(secret), `logs and errors must not contain ${secret.replace(/./g, "*")}`);
});

test.after(() => capture.stop());
test.run();
