// The load Lambda handler: a manifest event → one Data API batch, against an in-memory S3, a mocked
// SSM and a Data API stand-in (no AWS here). The manifest comes from the extract-transform handler.
import { readFileSync } from "node:fs";
import { BatchExecuteStatementCommand, ExecuteStatementCommand } from "@aws-sdk/client-redshift-data";
import { GetParameterCommand, ParameterNotFound, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import type { Context, S3Event } from "aws-lambda";
import { parse as parseCsv } from "csv-parse/sync";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TABLES } from "../functions/core/schema.js";
import { captureOutput } from "./fixtures/aws/capture.js";
import { FakeRedshift } from "./fixtures/aws/fake-redshift.js";
import { FakeS3, lambdaContext, s3Event, s3Record } from "./fixtures/aws/fake-s3.js";

const RAW = "coffeetl-raw-test";
const OUT = "coffeetl-transformed-test";
const ROLE = "arn:aws:iam::123456789012:role/coffeetl-redshift-copy";
const PASSWORD = "Bootcamp-Pa55word-Never-Sent";
const SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:coffeetl/redshift-AbCdEf";
const PARAMS = {
  "/coffeetl/test/serverless": { workgroupName: "coffeetl-wg", database: "coffee", copyRoleArn: ROLE },
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
process.env.TRANSACTION_SECRET_PARAMETER = "/coffeetl/test/transaction-secret";
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
async function load(event: unknown, parameter: string) {
  process.env.SSM_PARAMETER_NAME = parameter;
  try {
    return await handler(event as S3Event, context);
  } catch (error) {
    errors.push((error as Error).message);
    throw error;
  }
}

const KEY = "uploads/leeds 2024+v2/file.csv";
s3.putText(RAW, KEY, fixture);
await transform(s3Event(RAW, KEY) as S3Event, context);
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
    assert.ok(sqls.some((s) => s.startsWith(`INSERT INTO ${table} `)), `inserts into ${table}`);
  }
  assert.is(sqls.filter((s) => s.startsWith("INSERT INTO loads ")).length, 1, "records the load");
}

test("a manifest event (URL-encoded key) loads it in one batch addressed to the Serverless workgroup", async () => {
  assert.match(s3Event(OUT, MANIFEST).Records[0]!.s3.object.key, /^uploads\/leeds\+2024%2Bv2\/file\/[0-9a-f]{16}\/manifest\.json$/);
  const summary = await load(s3Event(OUT, MANIFEST), "/coffeetl/test/serverless");
  assert.equal(summary, { loaded: 1, alreadyLoaded: 0, skipped: 0 });
  const batches = redshift.batchInputs();
  assert.is(batches.length, 2, "schema creation, then the load");
  assert.ok(batches[0]!.Sqls!.every((s) => s.startsWith("CREATE TABLE IF NOT EXISTS")));
  const loads = redshift.loadBatches();
  assert.is(loads.length, 1);
  assertLoadBatch(loads[0]!);
  for (const b of batches) {
    assert.equal([b.WorkgroupName, b.Database, b.ClusterIdentifier, b.DbUser, b.SecretArn], ["coffeetl-wg", "coffee", undefined, undefined, undefined]);
  }
  const done = capture.lines().find((l) => l.message === "loaded");
  assert.ok(done);
  assert.equal([done!.manifestKey, done!.rowsRead, done!.transactionsNew, done!.rowsRejected, done!.warnings], [MANIFEST, 8, 7, 1, 1]);
  assert.type(done!.durationMs, "number");
});

test("a redelivered event (the same manifest again) loads once", async () => {
  redshift.mock.resetHistory();
  const summary = await load(s3Event(OUT, MANIFEST), "/coffeetl/test/serverless");
  assert.equal(summary, { loaded: 0, alreadyLoaded: 1, skipped: 0 });
  // The locked load transaction decides (a check before it could race): it reports the manifest
  // as already loaded and adds nothing.
  assert.is(redshift.mock.commandCalls(BatchExecuteStatementCommand).length, 1, "one load batch");
  assert.is(redshift.mock.commandCalls(ExecuteStatementCommand).length, 0, "no lookup outside the transaction");
  assert.is(redshift.loads.size, 1);
});

test("the bootcamp-shaped parameter: cluster from the host, DbUser from user, and the password in no request", async () => {
  freshRedshift();
  s3.mock.resetHistory();
  ssm.resetHistory();
  const summary = await load(s3Event(OUT, MANIFEST), "/coffeetl/test/bootcamp");
  assert.is(summary.loaded, 1);
  const loads = redshift.loadBatches();
  assert.is(loads.length, 1);
  assertLoadBatch(loads[0]!);
  for (const call of redshift.mock.calls()) {
    const input = call.args[0].input as Record<string, unknown>;
    if ("Sqls" in input || "Sql" in input) {
      assert.equal([input.ClusterIdentifier, input.DbUser, input.Database, input.SecretArn, input.WorkgroupName], ["mycluster", "bootcamp_user", "bootcamp_db", undefined, undefined]);
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

test("a FAILED statement makes the handler throw with Redshift's error text", async () => {
  freshRedshift();
  const text = "Load into table 'stage_transactions' failed.  Check 'stl_load_errors' system table for details.";
  redshift.plannedBatches.push({ Status: "FAILED", Error: text });
  const error = await load(s3Event(OUT, MANIFEST), "/coffeetl/test/serverless").then(() => undefined, (e: Error) => e);
  assert.ok(error, "throws");
  assert.ok(error!.message.includes(text), error!.message);
  assert.ok(error!.message.includes(MANIFEST), "names the manifest");
  assert.is(redshift.loads.size, 0);
});

test("a missing SSM parameter throws an error naming it", async () => {
  const error = await load(s3Event(OUT, MANIFEST), "/coffeetl/test/absent").then(() => undefined, (e: Error) => e);
  assert.ok(error);
  assert.match(error!.message, /SSM parameter "\/coffeetl\/test\/absent" does not exist/);
  delete process.env.SSM_PARAMETER_NAME;
  const unset = await handler(s3Event(OUT, MANIFEST) as S3Event, context).then(() => undefined, (e: Error) => e);
  assert.match(unset!.message, /environment variable SSM_PARAMETER_NAME is not set/);
});

test("objects other than manifest.json, and non-create events, are skipped without reading SSM", async () => {
  ssm.resetHistory();
  freshRedshift();
  const summary = await load(
    { Records: [s3Record(OUT, `${PREFIX}/transactions.csv`), s3Record(OUT, `${PREFIX}/failed.json`), s3Record(OUT, MANIFEST, "ObjectRemoved:Delete")] },
    "/coffeetl/test/serverless",
  );
  assert.equal(summary, { loaded: 0, alreadyLoaded: 0, skipped: 3 });
  assert.is(ssm.commandCalls(GetParameterCommand).length, 0);
  assert.is(redshift.mock.calls().length, 0);
});

test("nothing logged (or thrown) holds a customer name, a card number or the password", () => {
  assert.ok(capture.lines().length > 5);
  const everything = capture.text() + errors.join("\n");
  for (const secret of [...PII, PASSWORD]) assert.not.ok(everything.includes(secret), `found ${secret.replace(/./g, "*")} in the logs`);
});

test.after(() => capture.stop());
test.run();
