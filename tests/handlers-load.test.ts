// The load Lambda handler: SQS messages holding manifest events → one Data API batch, against an
// in-memory S3, a mocked SSM and a Data API stand-in (no AWS here). The manifest comes from the
// extract-transform handler. The 500-manifest burst is in handlers-load-burst.test.ts.
import { readFileSync } from "node:fs";
import { ExecuteStatementCommand } from "@aws-sdk/client-redshift-data";
import { GetParameterCommand, ParameterNotFound, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import type { Context, SQSEvent } from "aws-lambda";
import { parse as parseCsv } from "csv-parse/sync";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TABLES } from "../functions/core/schema.js";
import { captureOutput } from "./fixtures/aws/capture.js";
import { readerTables } from "../functions/warehouse/reader-role.js";
import { FakeRedshift } from "./fixtures/aws/fake-redshift.js";
import { FakeS3, lambdaContext, s3Event, s3Record } from "./fixtures/aws/fake-s3.js";
import { sqsEvent, sqsRecord } from "./fixtures/aws/sqs.js";

const RAW = "coffeetl-raw-test";
const OUT = "coffeetl-transformed-test";
const ROLE = "arn:aws:iam::123456789012:role/coffeetl-redshift-copy";
const PASSWORD = "Bootcamp-Pa55word-Never-Sent";
const SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:coffeetl/redshift-AbCdEf";
const PARAMS = {
  "/coffeetl/test/serverless": { workgroupName: "coffeetl-wg", database: "coffee", copyRoleArn: ROLE },
  "/coffeetl/test/reader-gap": { workgroupName: "coffeetl-wg-gap", database: "coffee", copyRoleArn: ROLE },
  "/coffeetl/test/provisioned": { clusterIdentifier: "cafe-cluster", database: "analytics", secretArn: SECRET_ARN, copyRoleArn: ROLE },
  "/coffeetl/test/bootcamp": {
    host: "mycluster.abc123xyz789.eu-west-1.redshift.amazonaws.com",
    port: 5439,
    "database-name": "bootcamp_db",
    user: "bootcamp_user",
    password: PASSWORD,
    copyRoleArn: ROLE,
  },
};
process.env.AWS_REGION = "eu-west-1";
process.env.TRANSFORMED_BUCKET = OUT;
process.env.TRANSACTION_ID_KEY_PARAMETER = "/coffeetl/test/transaction-secret";
process.env.POWERTOOLS_SERVICE_NAME = "coffeetl-load-test";

const fixture = readFileSync(new URL("./fixtures/aws/leeds-raw.csv", import.meta.url));
const PII = [...new Set((parseCsv(fixture, { relax_column_count: true }) as string[][]).flatMap((r) => [r[2]!, r[6]!]).filter(Boolean))];

const s3 = new FakeS3();
const ssm = mockClient(SSMClient);
ssm.on(GetParameterCommand, { Name: "/coffeetl/test/transaction-secret" }).resolves({ Parameter: { Value: "test-hmac-key-0123456789abcdef" } });
for (const [Name, value] of Object.entries(PARAMS)) ssm.on(GetParameterCommand, { Name }).resolves({ Parameter: { Name, Value: JSON.stringify(value) } });
ssm.on(GetParameterCommand, { Name: "/coffeetl/test/absent" }).rejects(new ParameterNotFound({ message: "Parameter not found.", $metadata: {} }));
let redshift = new FakeRedshift();
function freshRedshift() {
  redshift.mock.restore();
  redshift = new FakeRedshift();
  redshift.runningPolls = 0;
}
freshRedshift();

const capture = captureOutput();
const errors: string[] = [];
const transform = (await import("../functions/extract-transform/handler.js")).handler;
const { handler } = await import("../functions/load/handler.js");
const context = lambdaContext() as unknown as Context;
/** The handler over one SQS message per S3 event given. */
async function load(events: unknown | unknown[], parameter: string) {
  process.env.WAREHOUSE_PARAMETER_NAME = parameter;
  const event = sqsEvent((Array.isArray(events) ? events : [events]).map((e) => sqsRecord(e)));
  try {
    const response = await handler(event as SQSEvent, context);
    return { response, ids: event.Records.map((r) => r.messageId) };
  } catch (error) {
    errors.push((error as Error).message);
    throw error;
  }
}
const logged = (message: string) => capture.lines().filter((l) => l.message === message);

const KEY = "uploads/leeds 2024+v2/file.csv";
s3.putText(RAW, KEY, fixture);
await transform(s3Event(RAW, KEY) as never, context);
const MANIFEST = s3.keys(OUT).find((k) => k.endsWith("/manifest.json"))!;
const PREFIX = MANIFEST.slice(0, -"/manifest.json".length);

function assertLoadBatch(batch: { Sqls?: string[] }) {
  const sqls = batch.Sqls!;
  for (const table of TABLES) {
    const copy = sqls.filter((s) => s.startsWith(`COPY stage_${table} `));
    assert.is(copy.length, 1, `one COPY for ${table}`);
    assert.ok(copy[0]!.includes(` FROM 's3://${OUT}/${PREFIX}/${table}.csv' `), copy[0]);
    assert.ok(copy[0]!.includes(` IAM_ROLE '${ROLE}' `), "the role from SSM");
    assert.ok(copy[0]!.includes("FORMAT AS CSV IGNOREHEADER 1"));
    assert.ok(
      sqls.some((s) => s.startsWith(`INSERT INTO ${table} `)),
      `inserts into ${table}`,
    );
  }
  assert.is(sqls.filter((s) => s.startsWith("INSERT INTO loads ")).length, 1, "records the load");
}

test("an SQS message holding a manifest event (URL-encoded key) loads it in one batch addressed to the Serverless workgroup", async () => {
  assert.match(s3Event(OUT, MANIFEST).Records[0]!.s3.object.key, /^uploads\/leeds\+2024%2Bv2\/file\/[0-9a-f]{16}\/manifest\.json$/);
  const { response } = await load(s3Event(OUT, MANIFEST), "/coffeetl/test/serverless");
  assert.equal(response, { batchItemFailures: [] });
  const batches = redshift.batchInputs();
  assert.is(batches.length, 3, "schema creation, the load, then the file's rejected line and warning (line_notes)");
  assert.equal(
    redshift.lineNoteBatches().map((b) => b.Sqls!.length),
    [3],
  );
  assert.ok(
    batches[0]!.Sqls!.every((s) => /^(CREATE|ALTER|GRANT|INSERT INTO (warehouse_identity|load_lock)|LOCK|SELECT|DELETE)/.test(s)),
    "schema batch",
  );
  const loads = redshift.loadBatches();
  assert.is(loads.length, 1);
  assertLoadBatch(loads[0]!);
  for (const b of batches) {
    assert.equal([b.WorkgroupName, b.Database, b.ClusterIdentifier, b.DbUser, b.SecretArn], ["coffeetl-wg", "coffee", undefined, undefined, undefined]);
  }
  const done = logged("loaded")[0];
  assert.ok(done);
  assert.equal([done!.manifestKey, done!.rowsRead, done!.transactionsNew, done!.rowsRejected, done!.warnings], [MANIFEST, 8, 7, 1, 1]);
  assert.type(done!.durationMs, "number");
  assert.equal(pick(logged("batch done").at(-1)!, ["messages", "loaded", "alreadyLoaded", "skipped", "failedMessages"]), {
    messages: 1,
    loaded: 1,
    alreadyLoaded: 0,
    skipped: 0,
    failedMessages: 0,
  });
});

test("a redelivered message (the same manifest again, twice in one batch) loads once", async () => {
  redshift.mock.resetHistory();
  const { response } = await load([s3Event(OUT, MANIFEST), s3Event(OUT, MANIFEST)], "/coffeetl/test/serverless");
  assert.equal(response, { batchItemFailures: [] });
  // The locked load transaction decides (a check before it could race): it reports the manifest
  // as already loaded and adds nothing.
  assert.is(redshift.loadBatches().length, 1, "one load batch for both messages");
  assert.is(redshift.mock.commandCalls(ExecuteStatementCommand).length, 0, "no lookup outside the transaction");
  assert.is(redshift.loads.size, 1);
  assert.equal(pick(logged("batch done").at(-1)!, ["messages", "loaded", "alreadyLoaded"]), { messages: 2, loaded: 0, alreadyLoaded: 1 });
});

test("the bootcamp-shaped parameter: cluster from the host, DbUser from user, and the password in no request", async () => {
  freshRedshift();
  s3.mock.resetHistory();
  ssm.resetHistory();
  const { response } = await load(s3Event(OUT, MANIFEST), "/coffeetl/test/bootcamp");
  assert.equal(response.batchItemFailures, []);
  const loads = redshift.loadBatches();
  assert.is(loads.length, 1);
  assertLoadBatch(loads[0]!);
  for (const call of redshift.mock.calls()) {
    const input = call.args[0].input as Record<string, unknown>;
    if ("Sqls" in input || "Sql" in input) {
      assert.equal(
        [input.ClusterIdentifier, input.DbUser, input.Database, input.SecretArn, input.WorkgroupName],
        ["mycluster", "bootcamp_user", "bootcamp_db", undefined, undefined],
      );
    }
  }
  const everyRequest = JSON.stringify([...redshift.mock.calls(), ...s3.mock.calls(), ...ssm.calls()].map((c) => c.args[0].input));
  assert.ok(everyRequest.includes("bootcamp_user"), "the requests were captured");
  assert.not.ok(everyRequest.includes(PASSWORD), "the password is in no request");
});

test("a provisioned parameter with secretArn addresses the cluster with SecretArn", async () => {
  freshRedshift();
  await load(s3Event(OUT, MANIFEST), "/coffeetl/test/provisioned");
  const [b] = redshift.loadBatches();
  assert.equal([b!.ClusterIdentifier, b!.Database, b!.SecretArn, b!.DbUser], ["cafe-cluster", "analytics", SECRET_ARN, undefined]);
});

test("Grafana's reader lacking SELECT: a warning with the administrator's GRANT and the ReaderTablesWithoutSelect metric, re-checked until granted", async () => {
  freshRedshift();
  // Someone revoked every grant but one (the fake otherwise answers from the grants it saw).
  redshift.answer = (sql) => (/svv_relation_privileges/.test(sql) ? [{ relation_name: "branches" }] : undefined);
  await load(s3Event(OUT, MANIFEST), "/coffeetl/test/reader-gap");
  const missing = readerTables().filter((t) => t !== "branches");
  const warning = capture
    .lines()
    .filter((l) => /^Grafana's reader role coffeetl_reader may not SELECT/.test(String(l.message)))
    .at(-1);
  assert.ok(warning, "warned");
  assert.equal(warning!.tablesWithoutSelect, missing);
  assert.match(String(warning!.message), new RegExp(`GRANT SELECT ON TABLE ${missing.join(", ")} TO ROLE "coffeetl_reader"`));
  const metric = () =>
    capture
      .lines()
      .filter((l) => l._aws !== undefined)
      .at(-1)!.ReaderTablesWithoutSelect;
  assert.is(metric(), missing.length);
  redshift.answer = () => undefined; // an administrator granted them again
  await load(s3Event(OUT, MANIFEST), "/coffeetl/test/reader-gap");
  assert.is(metric(), 0, "the next invocation checks again and the alarm clears");
});

test("a FAILED load: its message is reported failed (not thrown), with Redshift's error text logged", async () => {
  freshRedshift();
  const text = "Load into table 'stage_transactions' failed.  Check 'stl_load_errors' system table for details.";
  redshift.plannedBatches.push({ Status: "FAILED", Error: text });
  const { response, ids } = await load(s3Event(OUT, MANIFEST), "/coffeetl/test/serverless");
  assert.equal(response, { batchItemFailures: [{ itemIdentifier: ids[0]! }] });
  const failure = logged("load failed").at(-1)!;
  assert.is(failure.manifestKey, MANIFEST);
  assert.ok(String(failure.error).includes(text), String(failure.error));
  assert.is(redshift.loads.size, 0);
  // Lambda counts a partial batch failure as a success: the handler's own metric is what alarms.
  const emf = capture
    .lines()
    .filter((l) => l._aws !== undefined)
    .at(-1)!;
  assert.equal([emf.ManifestsFailed, emf.MessagesFailed, emf.ManifestsLoaded, emf.service], [1, 1, 0, "coffeetl-load-test"]);
  // The failure is recorded where a query sees it (file_outcomes), by the load service.
  assert.ok(
    redshift.mock.calls().some((c) => JSON.stringify(c.args[0].input).includes("file_outcomes")),
    "a file_outcomes row is written",
  );
});

test("a missing SSM parameter fails every message, naming the parameter", async () => {
  const { response, ids } = await load([s3Event(OUT, MANIFEST), s3Event(OUT, MANIFEST)], "/coffeetl/test/absent");
  assert.equal(
    response.batchItemFailures,
    ids.map((itemIdentifier) => ({ itemIdentifier })),
  );
  assert.match(String(logged("load failed before any manifest").at(-1)!.errorMessage), /SSM parameter "\/coffeetl\/test\/absent" does not exist/);
  delete process.env.WAREHOUSE_PARAMETER_NAME;
  const event = sqsEvent([sqsRecord(s3Event(OUT, MANIFEST))]);
  const unset = await handler(event, context);
  assert.equal(unset.batchItemFailures, [{ itemIdentifier: event.Records[0]!.messageId }]);
  assert.match(String(logged("load failed before any manifest").at(-1)!.errorMessage), /environment variable WAREHOUSE_PARAMETER_NAME is not set/);
});

test("S3's test event, other objects and non-create events are skipped without reading SSM; a non-S3 body fails alone", async () => {
  ssm.resetHistory();
  freshRedshift();
  process.env.WAREHOUSE_PARAMETER_NAME = "/coffeetl/test/serverless";
  const test = sqsRecord({ Service: "Amazon S3", Event: "s3:TestEvent", Time: "2024-05-01T10:00:00.000Z", Bucket: OUT, RequestId: "r", HostId: "h" });
  const others = sqsRecord({
    Records: [s3Record(OUT, `${PREFIX}/transactions.csv`), s3Record(OUT, `${PREFIX}/rejects.csv`), s3Record(OUT, MANIFEST, "ObjectRemoved:Delete")],
  });
  const garbage = sqsRecord("not json at all");
  const wrongShape = sqsRecord({ hello: "world" });
  const response = await handler(sqsEvent([test, others, garbage, wrongShape]), context);
  assert.equal(response.batchItemFailures, [{ itemIdentifier: garbage.messageId }, { itemIdentifier: wrongShape.messageId }], "parked, never dropped");
  assert.is(ssm.commandCalls(GetParameterCommand).length, 0);
  assert.is(redshift.mock.calls().length, 0);
  assert.is(logged("skipped").filter((l) => l.reason === "s3:TestEvent").length, 1);
  assert.equal(
    logged("skipped")
      .filter((l) => l.messageId === others.messageId)
      .map((l) => l.reason),
    ["not a manifest.json or failed.json key", "not a manifest.json or failed.json key", "not an ObjectCreated event"],
  );
  assert.match(String(logged("unreadable message").at(-1)!.errorMessage), /not an S3 event notification/);
});

test("a message holding several records fails when one of its manifests fails, and only then", async () => {
  freshRedshift();
  s3.putText(RAW, "uploads/york/day.csv", fixture.toString("utf8").replace(/Leeds/g, "York"));
  await transform(s3Event(RAW, "uploads/york/day.csv") as never, context);
  const york = s3.keys(OUT).find((k) => k.startsWith("uploads/york/") && k.endsWith("/manifest.json"))!;
  const missing = `${PREFIX.replace(/[0-9a-f]{16}$/, "0000000000000000")}/manifest.json`;
  const both = { Records: [s3Record(OUT, york), s3Record(OUT, missing)] };
  const { response, ids } = await load([both, s3Event(OUT, MANIFEST)], "/coffeetl/test/serverless");
  assert.equal(response.batchItemFailures, [{ itemIdentifier: ids[0]! }]);
  assert.is(redshift.loads.size, 2, "york and leeds loaded; the missing manifest failed alone");
});

// A raw file no line of which can be read: the transform writes failed.json (and its event fails).
const BROKEN = "uploads/broken/day.csv";
s3.putText(RAW, BROKEN, Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x01, 0x02]));
await transform(s3Event(RAW, BROKEN) as never, context).then(
  () => assert.unreachable("an unreadable file fails its event"),
  () => undefined,
);
const FAILED = s3.keys(OUT).find((k) => k.startsWith("uploads/broken/day/") && k.endsWith("/failed.json"))!;
const outcomeInserts = () =>
  redshift.mock
    .commandCalls(ExecuteStatementCommand)
    .map((c) => c.args[0].input.Sql as string)
    .filter((sql) => sql.startsWith("INSERT INTO file_outcomes "));

test("a failed.json event records one transform failure row; a manifest in the same batch still loads", async () => {
  freshRedshift();
  const failure = JSON.parse(s3.text(OUT, FAILED)) as { source: { key: string; sha256: string }; reason: string; failedAt: string };
  assert.is(failure.source.key, BROKEN);
  assert.match(failure.reason, /^binary content/);
  const { response } = await load([s3Event(OUT, FAILED), s3Event(OUT, MANIFEST)], "/coffeetl/test/serverless");
  assert.equal(response, { batchItemFailures: [] });
  assert.is(redshift.loadBatches().length, 1, "the manifest loaded");
  assert.is(redshift.loads.size, 1);
  const inserts = outcomeInserts();
  assert.is(inserts.length, 1, "one file_outcomes row");
  const sql = inserts[0]!;
  for (const part of [
    `'${BROKEN}'`,
    `'${failure.source.sha256}'`,
    "'transform'",
    "'failed'",
    `'${failure.reason}'`,
    `CAST('${failure.failedAt.replace("T", " ").replace("Z", "")}' AS TIMESTAMP)`,
  ]) {
    assert.ok(sql.includes(part), `${part} in ${sql}`);
  }
  // Addressed like the loads (the connection from SSM).
  const call = redshift.mock.commandCalls(ExecuteStatementCommand).find((c) => c.args[0].input.Sql === sql)!;
  assert.equal([call.args[0].input.WorkgroupName, call.args[0].input.Database], ["coffeetl-wg", "coffee"]);
  assert.equal(pick(logged("batch done").at(-1)!, ["messages", "loaded", "failuresRecorded", "failuresUnrecorded", "failedMessages"]), {
    messages: 2,
    loaded: 1,
    failuresRecorded: 1,
    failuresUnrecorded: 0,
    failedMessages: 0,
  });
  // A redelivery writes the same row again, nothing new (recorded_at is the failure's own time).
  redshift.mock.resetHistory();
  await load(s3Event(OUT, FAILED), "/coffeetl/test/serverless");
  assert.equal(outcomeInserts(), [sql]);
});

test("a failed.json that cannot be recorded (absent, malformed, the warehouse refusing) fails its message alone", async () => {
  freshRedshift();
  const prefix = FAILED.slice(0, -"/failed.json".length);
  s3.putText(OUT, "uploads/odd/day/0123456789abcdef/failed.json", "{}");
  const absent = s3Event(OUT, `${prefix.replace(/[0-9a-f]{16}$/, "0000000000000000")}/failed.json`);
  const malformed = s3Event(OUT, "uploads/odd/day/0123456789abcdef/failed.json");
  const { response, ids } = await load([absent, malformed, s3Event(OUT, FAILED), s3Event(OUT, MANIFEST)], "/coffeetl/test/serverless");
  assert.equal(response.batchItemFailures, [{ itemIdentifier: ids[0]! }, { itemIdentifier: ids[1]! }]);
  assert.is(outcomeInserts().length, 1, "the readable one recorded");
  assert.match(String(logged("could not record a transform failure").at(-1)!.errorMessage), /names no source key/);

  freshRedshift();
  redshift.mock.on(ExecuteStatementCommand).rejects(new Error("the warehouse is unavailable"));
  const second = await load([s3Event(OUT, FAILED), s3Event(OUT, MANIFEST)], "/coffeetl/test/serverless");
  assert.equal(second.response.batchItemFailures, [{ itemIdentifier: second.ids[0]! }], "retried, then parked in the load DLQ");
  assert.is(redshift.loads.size, 1, "the manifest loaded all the same");
  assert.equal(pick(logged("batch done").at(-1)!, ["failuresRecorded", "failuresUnrecorded", "failedMessages"]), {
    failuresRecorded: 0,
    failuresUnrecorded: 1,
    failedMessages: 1,
  });
  freshRedshift();
});

test("nothing logged (or thrown) holds a customer name, a card number or the password", () => {
  assert.ok(capture.lines().length > 5);
  const everything = capture.text() + errors.join("\n");
  for (const secret of [...PII, PASSWORD]) assert.not.ok(everything.includes(secret), `found ${secret.replace(/./g, "*")} in the logs`);
});

function pick(o: Record<string, unknown>, keys: string[]) {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}

test.after(() => capture.stop());
test.run();
