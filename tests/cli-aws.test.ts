// The daily check on AWS: `coffeetl status`, `rejects` and `reprocess --outputs outputs.json` against
// the deployed stack's stand-ins: the Redshift Data API (fake-redshift.ts, here running its SQL on a
// PGlite without keys and with Redshift's string literals: redshift-engine.ts), S3 (FakeS3), SSM
// (the warehouse connection) and Lambda. Files are transformed and loaded as the Lambdas do
// (transformObject, loadManifests on RedshiftWarehouse), then read through the CLI's own commands.
// A file's rejected lines outlive its transformed files: the transformed bucket is emptied (its
// 30-day expiry) and `rejects` still answers "why did line 212 of the 3 March file fail".
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { text } from "node:stream/consumers";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { BatchExecuteStatementCommand, ExecuteStatementCommand, RedshiftDataClient } from "@aws-sdk/client-redshift-data";
import { S3Client } from "@aws-sdk/client-s3";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import { parse as parseCsv } from "csv-parse/sync";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadManifests } from "../functions/app/load-manifests.js";
import { recordTransformFailure } from "../functions/app/record-failure.js";
import { MAX_BATCH_STATEMENTS, RedshiftWarehouse } from "../functions/aws/redshift-warehouse.js";
import { S3Storage } from "../functions/aws/s3-storage.js";
import { clearParameterCache } from "../functions/aws/ssm.js";
import { FAILURE_FILE } from "../functions/core/manifest.js";
import { sampleChunks } from "../functions/core/sample.js";
import { parseCommandLine } from "../cli/args.js";
import { parseOutputs, readerSettings } from "../cli/outputs.js";
import { reprocessCommand as reprocessWith } from "../cli/reprocess.js";
import { rejectsCommand, statusCommand } from "../cli/status.js";
import { FakeRedshift } from "./fixtures/aws/fake-redshift.js";
import { FakeS3 } from "./fixtures/aws/fake-s3.js";
import { CONNECTION, PARAMETER, RAW, REGION, ROLE, TRANSFORMED } from "./fixtures/aws/acme-stack.js";
import { RedshiftEngine } from "./fixtures/aws/redshift-engine.js";
import { FIXTURE_PII, fixture, runCoffeetlSync, tempDir, transformObject } from "./helpers.js";

const FUNCTION = "acme-prod-extract-transform-9f8e7d";
const SECRET = "a-transaction-secret-of-enough-length";

// `pulumi stack output --json` of a stack (names in index.ts), with the outputs this command ignores.
const OUTPUTS = {
  rawBucketName: RAW,
  rawBucketArn: `arn:aws:s3:::${RAW}`,
  transformedBucketName: TRANSFORMED,
  transformedBucketArn: `arn:aws:s3:::${TRANSFORMED}`,
  deadLetterQueueUrl: `https://sqs.${REGION}.amazonaws.com/123456789012/acme-prod-dlq`,
  loadQueueUrl: `https://sqs.${REGION}.amazonaws.com/123456789012/acme-prod-load`,
  extractTransformFunctionName: FUNCTION,
  loadFunctionName: "acme-prod-load-0a1b2c",
  warehouseParameterName: PARAMETER,
  warehouseWorkgroupName: "analytics",
  copyRoleArn: ROLE,
  grafanaUrl: "https://d111111abcdef8.cloudfront.net",
};

const s3 = new FakeS3();
const redshift = new FakeRedshift();
const engine = await RedshiftEngine.overS3(s3);
redshift.engine = engine;
const ssm = mockClient(SSMClient);
ssm.on(GetParameterCommand, { Name: PARAMETER }).resolves({
  Parameter: { Name: PARAMETER, Value: CONNECTION },
});
const lambda = mockClient(LambdaClient);
lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
process.env.AWS_ACCESS_KEY_ID ??= "AKIAIOSFODNN7EXAMPLE";
process.env.AWS_SECRET_ACCESS_KEY ??= "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

const dir = await tempDir();
const outputsFile = join(dir.path, "outputs.json");
writeFileSync(outputsFile, JSON.stringify(OUTPUTS, null, 2));

// The 3 March file of Leeds: a day of sales (a sample) with line 212 damaged (a payment method the
// till never wrote) and 130 totals that differ from their items (warnings: more than the manifest's
// first 100 lines), and the project's fixture with five rejected lines and a warning.
const MARCH_3 = "uploads/leeds/2024-03-03.csv";
const BROKEN = "uploads/kendal/broken_rows.csv";
const UNREADABLE = "uploads/kendal/not_csv.csv";
const day = [...sampleChunks({ branch: "Leeds", date: "2024-03-03", rows: 300, seed: 3 })].join("").split("\n");
assert.ok(day.length > 212 && /,CASH,|,CARD,/.test(day[211]!));
day[211] = day[211]!.replace(/,(CASH|CARD),/, ",CHEQUE,");
const WARNED = Array.from({ length: 130 }, (_, i) => i + 11);
for (const at of WARNED) {
  const fields = (parseCsv(day[at - 1]!) as string[][])[0]!;
  fields[4] = (Number(fields[4]) + 1).toFixed(2);
  day[at - 1] = fields.map((f) => (/[",]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(",");
}
s3.putText(RAW, MARCH_3, day.join("\n"));
s3.putText(RAW, BROKEN, await text((await import("node:fs")).createReadStream(fixture("broken_rows.csv"))));
s3.putText(RAW, UNREADABLE, await text((await import("node:fs")).createReadStream(fixture("not_csv.csv"))));
s3.putText(RAW, "uploads/leeds/notes.txt", "not a csv");

// Locally the reports are printed per file; on AWS the command prints its own lines.
const reprocessCommand = (ctx: Parameters<typeof reprocessWith>[0]) =>
  reprocessWith(ctx, {
    printReport: () => assert.unreachable("no local file report on AWS"),
    printSummary: () => assert.unreachable("no local summary on AWS"),
  });

const client = { s3: new S3Client({ region: REGION }), redshift: new RedshiftDataClient({ region: REGION }) };
const raw = new S3Storage(client.s3, RAW);
const transformed = new S3Storage(client.s3, TRANSFORMED);
const connection = { target: { kind: "serverless" as const, workgroupName: "analytics", database: "dev" }, copyRoleArn: ROLE };
const loader = new RedshiftWarehouse(client.redshift, connection, { copyManifests: transformed, pollInitialMs: 1, pollMaxMs: 1, sleep: async () => {} });

// The extract-transform Lambda's work, then the load Lambda's: both good files in one batch.
const manifests: string[] = [];
for (const key of [MARCH_3, BROKEN]) manifests.push((await transformObject({ raw, transformed, transactionIdKey: SECRET }, key)).manifestKey);
await transformObject({ raw, transformed, transactionIdKey: SECRET }, UNREADABLE).catch(() => undefined);
const batchesBefore = redshift.mock.commandCalls(BatchExecuteStatementCommand).length;
const outcomes = await loadManifests({ transformed, warehouse: loader }, manifests);
assert.ok(
  outcomes.every((o) => o.ok),
  JSON.stringify(outcomes),
);
const failureKey = s3.keys(TRANSFORMED).find((k) => k.startsWith("uploads/kendal/not_csv/") && k.endsWith(FAILURE_FILE))!;
await recordTransformFailure({ transformed, warehouse: loader }, failureKey);
const loadBatches = redshift.mock
  .commandCalls(BatchExecuteStatementCommand)
  .slice(batchesBefore)
  .map((c) => c.args[0].input.Sqls!);

/** Runs a command as `coffeetl ARGS` would (parsing included) and captures its standard output. */
async function cli(args: string[], run: (ctx: ReturnType<typeof parseCommandLine>["ctx"] & object) => Promise<number>) {
  const { ctx } = parseCommandLine(args);
  let out = "";
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    return true;
  }) as typeof process.stdout.write;
  try {
    clearParameterCache();
    const code = await run(ctx!);
    return { code, out };
  } finally {
    process.stdout.write = original;
  }
}

test("the load keeps rejected lines and warnings in a transaction of its own: 3 statements, the load's own count unchanged", () => {
  assert.is(loadBatches.length, 2, "one load transaction of both files, one for their line notes");
  const [load, notes] = loadBatches as [string[], string[]];
  assert.ok(
    load.some((s) => s.startsWith("COPY stage_transactions ") && s.includes(" MANIFEST ")),
    "a multi-file batch",
  );
  assert.not.ok(
    load.some((s) => /line_notes/.test(s)),
    "nothing of the notes in the load's transaction",
  );
  assert.equal(
    notes.map((s) => s.split(" ").slice(0, 2).join(" ")),
    ["LOCK load_lock", "DELETE FROM", "COPY line_notes"],
  );
  assert.match(
    notes[2]!,
    new RegExp(`FROM 's3://${TRANSFORMED}/_load-batches/[0-9a-f]{32}/line_notes\\.csv' IAM_ROLE '${ROLE}' FORMAT AS CSV IGNOREHEADER 1 TRUNCATECOLUMNS`),
  );
  // The Data API takes at most 40 statements per batch: say where the load stands.
  assert.ok(load.length <= MAX_BATCH_STATEMENTS && notes.length <= 3, `${load.length} + ${notes.length} statements`);
  console.log(
    `  a 2-file load: ${load.length} statements in its transaction (Data API maximum ${MAX_BATCH_STATEMENTS}), then ${notes.length} for its line notes`,
  );
});

test("line_notes holds every rejected line and warning of each loaded file, no content", async () => {
  const [rows] = (await engine.transaction([
    "SELECT l.source_key, n.line_number, n.kind, n.reason FROM line_notes n JOIN loads l ON l.load_id = n.load_id ORDER BY 1, 2",
  ])) as [Record<string, unknown>[]];
  const of = (key: string) => rows.filter((r) => r.source_key === key).map((r) => `${r.line_number}:${r.kind}`);
  assert.equal(of(BROKEN), ["2:rejected", "3:rejected", "4:rejected", "5:rejected", "6:rejected", "8:warning"]);
  assert.ok(of(MARCH_3).includes("212:rejected"), of(MARCH_3).join(" "));
  const text = JSON.stringify(rows);
  for (const pii of FIXTURE_PII) assert.not.ok(text.includes(pii), `no ${pii} in line_notes`);
});

test("status --outputs: each file's latest outcome from the deployed warehouse, read through the Data API", async () => {
  const before = redshift.mock.commandCalls(ExecuteStatementCommand).length;
  const { code, out } = await cli(["status", "--outputs", outputsFile], statusCommand);
  assert.is(code, 0);
  assert.match(out, /^3 files: 2 loaded, 1 failed \(latest outcome of each file\)/);
  assert.match(out, /\| loaded +\| 300 +\| 299 +\| 0 +\| 1 +\| 130 +\| uploads\/leeds\/2024-03-03\.csv/);
  assert.match(out, /\| loaded +\| 8 +\| 3 +\| 0 +\| 5 +\| 1 +\| uploads\/kendal\/broken_rows\.csv/);
  assert.match(out, /\| failed +\| .*uploads\/kendal\/not_csv\.csv +\| binary content/);
  const calls = redshift.mock
    .commandCalls(ExecuteStatementCommand)
    .slice(before)
    .map((c) => c.args[0].input);
  assert.ok(calls.length > 0);
  for (const input of calls) {
    assert.is(input.WorkgroupName, "analytics");
    assert.is(input.Database, "dev");
  }
  const hint = await cli(["status", "--failed", "--outputs", outputsFile], statusCommand);
  assert.match(hint.out, new RegExp(`\`coffeetl reprocess PREFIX --outputs ${outputsFile}\` runs them again`));
  const failed = await cli(["status", "--failed", "--json", "--outputs", outputsFile], statusCommand);
  assert.equal(
    JSON.parse(failed.out).map((r: { source_key: string }) => r.source_key),
    [UNREADABLE],
  );
});

test("rejects --outputs: line 212 of the 3 March file, with its reason, also after the transformed bucket's files expired", async () => {
  const first = await cli(["rejects", "2024-03-03.csv", "--outputs", outputsFile], rejectsCommand);
  assert.is(first.code, 0);
  assert.match(first.out, /^uploads\/leeds\/2024-03-03\.csv: 300 rows read, 1 rejected, 130 warnings \(loaded/);
  assert.match(first.out, /^212 +\| rejected \| unknown payment method/m);
  // Every warning, not only the first 100 lines the manifest lists.
  const warned = [...first.out.matchAll(/^(\d+) +\| warning +\| total differs/gm)].map((m) => Number(m[1]));
  assert.equal(warned, WARNED);
  assert.not.match(first.out, /have their line recorded/);

  // The transformed bucket's lifecycle rule deletes everything after 30 days.
  const expired = s3.keys(TRANSFORMED);
  for (const key of expired) s3.objects.delete(`${TRANSFORMED}/${key}`);
  assert.is(s3.keys(TRANSFORMED).length, 0);
  const later = await cli(["rejects", "uploads/leeds/2024-03-03.csv", "--outputs", outputsFile], rejectsCommand);
  assert.is(later.code, 0);
  assert.equal(later.out, first.out, "the same answer from the warehouse alone");

  const broken = await cli(["rejects", "broken_rows.csv", "--json", "--outputs", outputsFile], rejectsCommand);
  const lines = (JSON.parse(broken.out) as { lines: { line: number; kind: string; reason: string }[] }).lines;
  assert.equal(
    lines.map((l) => `${l.line}:${l.kind}`),
    ["2:rejected", "3:rejected", "4:rejected", "5:rejected", "6:rejected", "8:warning"],
  );
  assert.match(lines.at(-1)!.reason, /total differs/);

  const failed = await cli(["rejects", "not_csv.csv", "--outputs", outputsFile], rejectsCommand);
  assert.match(failed.out, /uploads\/kendal\/not_csv\.csv: failed at transform: binary content/);
});

test("rejects --outputs of a load made before the warehouse kept its lines: from the transformed files while they last, then a clear error", async () => {
  // A load of an older release: no line_notes rows (and its transformed files expired, as above).
  await engine.transaction([`DELETE FROM line_notes WHERE load_id IN (SELECT load_id FROM loads WHERE source_key = '${MARCH_3}')`]);
  const gone = await cli(["rejects", "2024-03-03.csv", "--outputs", outputsFile], rejectsCommand).catch((e: Error) => e);
  assert.instance(gone, Error);
  assert.match((gone as Error).message, /2024-03-03\.csv: its lines are not in the warehouse .* not in the transformed bucket any more \(kept 30 days\)/);
  // Its transformed files while they last (here: transformed again, as within the 30 days): every
  // warning from warnings.csv, not only the manifest's first 100.
  await transformObject({ raw, transformed, transactionIdKey: SECRET }, MARCH_3);
  const back = await cli(["rejects", "2024-03-03.csv", "--outputs", outputsFile], rejectsCommand);
  assert.match(back.out, /^212 +\| rejected \| unknown payment method/m);
  assert.equal(
    [...back.out.matchAll(/^(\d+) +\| warning +\| total differs/gm)].map((m) => Number(m[1])),
    WARNED,
  );
});

test("reprocess --outputs PREFIX: each raw .csv under the prefix sent to the extract-transform function as its S3 event; --dry-run and --since", async () => {
  lambda.resetHistory();
  const dry = await cli(["reprocess", "uploads/leeds/", "--dry-run", "--outputs", outputsFile], reprocessCommand);
  assert.is(dry.code, 0);
  assert.match(
    dry.out,
    new RegExp(`^Would send 1 raw file under s3://${RAW}/uploads/leeds/ to ${FUNCTION}:\\n  ${MARCH_3}\\n\\(1 other object skipped: not \\.csv\\)`),
  );
  assert.is(lambda.commandCalls(InvokeCommand).length, 0, "a dry run sends nothing");

  const sent = await cli(["reprocess", "uploads/", "--outputs", outputsFile], reprocessCommand);
  assert.is(sent.code, 0);
  const invocations = lambda.commandCalls(InvokeCommand).map((c) => c.args[0].input);
  assert.is(invocations.length, 3);
  for (const input of invocations) {
    assert.is(input.FunctionName, FUNCTION);
    assert.is(input.InvocationType, "Event");
  }
  const records = invocations.map((i) => JSON.parse(Buffer.from(i.Payload as Uint8Array).toString()).Records[0]);
  assert.equal(records.map((r) => decodeURIComponent(r.s3.object.key.replace(/\+/g, " "))).sort(), [BROKEN, UNREADABLE, MARCH_3].sort());
  assert.ok(records.every((r) => r.s3.bucket.name === RAW && r.eventName === "ObjectCreated:Put" && r.awsRegion === REGION));

  const none = await cli(["reprocess", "uploads/", "--since", "2999-01-01", "--outputs", outputsFile], reprocessCommand);
  assert.is(none.code, 1);
});

test("a read the warehouse refuses says which grant the operator's identity lacks", async () => {
  const real = redshift.engine;
  redshift.engine = { transaction: async () => Promise.reject(new Error("permission denied for relation file_outcomes")) };
  try {
    const error = await cli(["status", "--outputs", outputsFile], statusCommand).catch((e: Error) => e);
    assert.instance(error, Error);
    assert.match(
      (error as Error).message,
      /refused the read: your AWS identity's database user .* needs the coffeetl_reader role: tag the IAM role you use with RedshiftDbRoles=coffeetl_reader/,
    );
  } finally {
    redshift.engine = real;
  }
});

test("outputs.json: parsed into a typed target; errors name the file and what is missing; reads as the reader", () => {
  const stack = parseOutputs(JSON.stringify(OUTPUTS), "outputs.json");
  assert.equal(stack, {
    source: "outputs.json",
    region: process.env.AWS_REGION ?? REGION,
    rawBucketName: RAW,
    transformedBucketName: TRANSFORMED,
    warehouseParameterName: PARAMETER,
    extractTransformFunctionName: FUNCTION,
  });
  assert.throws(() => parseOutputs("{", "o.json"), /o\.json: not JSON; expected the output of `pulumi stack output --json`/);
  assert.throws(
    () => parseOutputs(JSON.stringify({ rawBucketName: RAW }), "o.json"),
    /missing stack outputs transformedBucketName, warehouseParameterName, extractTransformFunctionName/,
  );
  const provisioned = { target: { kind: "provisioned" as const, clusterIdentifier: "c", database: "dev", dbUser: "loader" }, copyRoleArn: ROLE };
  assert.equal(readerSettings(provisioned).target, { kind: "provisioned", clusterIdentifier: "c", database: "dev", dbUser: "coffeetl_grafana" });
  assert.equal(readerSettings({ ...provisioned, readerDbUser: "ops_reader" }).target, { ...provisioned.target, dbUser: "ops_reader" });
});

test("outputs.json: the transaction-id key's parameter under its name, or under the name stacks of older releases gave it", () => {
  const key = "/coffeetl/acme-prod/transaction-secret";
  assert.is(parseOutputs(JSON.stringify({ ...OUTPUTS, transactionIdKeyParameter: key }), "o.json").transactionIdKeyParameter, key);
  assert.is(parseOutputs(JSON.stringify({ ...OUTPUTS, transactionSecretParameter: key }), "o.json").transactionIdKeyParameter, key);
  assert.is(parseOutputs(JSON.stringify({ ...OUTPUTS, transactionSecretParameter: "" }), "o.json").transactionIdKeyParameter, undefined);
});

test("the built CLI takes --outputs for status, rejects and reprocess without a home, and names a missing outputs file", () => {
  for (const args of [["status"], ["rejects", "x.csv"], ["reprocess", "uploads/"]]) {
    const r = runCoffeetlSync([...args, "--outputs", join(dir.path, "missing.json"), "--home", join(dir.path, "no-home")], {
      cwd: dir.path,
      env: { ...process.env, AWS_REGION: REGION },
    });
    assert.is(r.status, 1, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /cannot read .*missing\.json: no such file \(write it with `pulumi stack output --json > /);
    assert.not.match(r.stderr, /no CoffeETL home/);
  }
  const region = runCoffeetlSync(["status", "--region", REGION, "--home", dir.path], { cwd: dir.path });
  assert.is(region.status, 2);
  assert.match(region.stderr, /status: --region goes with --outputs/);
});

test.after(async () => {
  await engine.close();
  await dir.remove();
});

test.run();
