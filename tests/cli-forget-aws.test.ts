// `coffeetl forget FILE --outputs outputs.json [--yes]` against the deployed stack's stand-ins: the
// Redshift Data API (fake-redshift.ts running its SQL on a PGlite without keys and with Redshift's
// string literals), S3 (FakeS3), SSM (the warehouse connection and the transaction secret). Files go
// through the extract-transform handler as deployed, then the load as the load function runs it
// (loadManifests on the Data API); the transformed bucket's notification (ObjectCreated on
// `manifest.json`, through the load queue) is stood in for by `deliver`, which loads each manifest
// written to the bucket since it last ran, in the order they were written.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ExecuteStatementCommand, RedshiftDataClient } from "@aws-sdk/client-redshift-data";
import { S3Client } from "@aws-sdk/client-s3";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import type { Context, S3Event } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadManifests } from "../functions/app/load-manifests.js";
import { RedshiftWarehouse } from "../functions/aws/redshift-warehouse.js";
import { S3Storage } from "../functions/aws/s3-storage.js";
import { clearParameterCache } from "../functions/aws/ssm.js";
import { MANIFEST_FILE } from "../functions/core/manifest.js";
import { sampleChunks } from "../functions/core/sample.js";
import { parseCommandLine } from "../cli/args.js";
import { forgetCommand } from "../cli/forget.js";
import { statusCommand } from "../cli/status.js";
import { FakeRedshift } from "./fixtures/aws/fake-redshift.js";
import { FakeS3, lambdaContext, s3Record } from "./fixtures/aws/fake-s3.js";
import { CONNECTION, PARAMETER, RAW, REGION, ROLE, TRANSFORMED } from "./fixtures/aws/acme-stack.js";
import { RedshiftEngine } from "./fixtures/aws/redshift-engine.js";
import { runCoffeetlSync, tempDir } from "./helpers.js";

const SECRET_PARAMETER = "/coffeetl/acme-prod/transaction-secret";
const SECRET = "a-transaction-secret-of-enough-length-7Qz";

const OUTPUTS = {
  rawBucketName: RAW,
  transformedBucketName: TRANSFORMED,
  deadLetterQueueUrl: `https://sqs.${REGION}.amazonaws.com/123456789012/acme-prod-dlq`,
  extractTransformFunctionName: "acme-prod-extract-transform-9f8e7d",
  loadFunctionName: "acme-prod-load-0a1b2c",
  warehouseParameterName: PARAMETER,
  transactionIdKeyParameter: SECRET_PARAMETER,
  copyRoleArn: ROLE,
};

process.env.AWS_REGION = REGION;
process.env.AWS_ACCESS_KEY_ID ??= "AKIAIOSFODNN7EXAMPLE";
process.env.AWS_SECRET_ACCESS_KEY ??= "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
// The functions' environment (infra/stack.ts).
process.env.TRANSFORMED_BUCKET = TRANSFORMED;
process.env.TRANSACTION_ID_KEY_PARAMETER = SECRET_PARAMETER;
process.env.WAREHOUSE_PARAMETER_NAME = PARAMETER;
process.env.POWERTOOLS_SERVICE_NAME = "coffeetl-forget-test";
process.env.LOG_LEVEL = "WARN";

const s3 = new FakeS3();
const redshift = new FakeRedshift();
const engine = await RedshiftEngine.overS3(s3);
redshift.engine = engine;
const ssm = mockClient(SSMClient);
ssm.on(GetParameterCommand, { Name: PARAMETER }).resolves({
  Parameter: { Name: PARAMETER, Value: CONNECTION },
});
ssm.on(GetParameterCommand, { Name: SECRET_PARAMETER }).resolves({ Parameter: { Name: SECRET_PARAMETER, Type: "SecureString", Value: SECRET } });

const transformHandler = (await import("../functions/extract-transform/handler.js")).handler;
// The load function's work (functions/load/handler.ts runs loadManifests on a RedshiftWarehouse over
// the Data API; its schema step needs Redshift's catalogue, which the stand-in's engine lacks).
const transformed = new S3Storage(new S3Client({ region: REGION }), TRANSFORMED);
const loader = new RedshiftWarehouse(
  new RedshiftDataClient({ region: REGION }),
  { target: { kind: "serverless", workgroupName: "analytics", database: "dev" }, copyRoleArn: ROLE },
  {
    copyManifests: transformed,
    pollInitialMs: 1,
    pollMaxMs: 1,
    sleep: async () => {},
  },
);

const dir = await tempDir();
const outputsFile = join(dir.path, "outputs.json");
writeFileSync(outputsFile, JSON.stringify(OUTPUTS, null, 2));

// Two real-shaped days of Leeds: the 4 March file, and a resent export holding its first 40 sales
// and 25 of its own (the sales both hold stay when the first is withdrawn).
const MARCH_4 = "uploads/leeds/2024-03-04.csv";
const RESENT = "uploads/leeds/2024-03-04-resent.csv";
const day = [...sampleChunks({ branch: "Leeds", date: "2024-03-04", rows: 200, seed: 4 })].join("").split("\n").filter(Boolean);
const own = [...sampleChunks({ branch: "Leeds", date: "2024-03-05", rows: 25, seed: 5 })].join("").split("\n").filter(Boolean);
const SHARED = 40;

let sequencer = 0x0a1b2c3d4e5f6700;
/** An upload to the raw bucket and its notification to the extract-transform function. */
async function upload(key: string, lines: string[]) {
  s3.putText(RAW, key, lines.join("\n") + "\n");
  const record = s3Record(RAW, key);
  record.awsRegion = REGION;
  record.s3.object.sequencer = (sequencer += 0x100).toString(16).toUpperCase().padStart(18, "0");
  await transformHandler({ Records: [record] } as unknown as S3Event, lambdaContext() as unknown as Context);
}

/** The transformed bucket's notification: each manifest written since the last call goes to the load handler. */
let delivered = 0;
const manifestsWritten: string[] = [];
let failing = false;
async function deliver(): Promise<void> {
  while (delivered < s3.stored.length) {
    const id = s3.stored[delivered++]!;
    if (!id.startsWith(`${TRANSFORMED}/`) || !id.endsWith(`/${MANIFEST_FILE}`)) continue;
    const key = id.slice(TRANSFORMED.length + 1);
    manifestsWritten.push(key);
    const [outcome] = await loadManifests({ transformed, warehouse: loader }, [key]);
    if (!failing) assert.ok(outcome?.ok, `the load of ${key}: ${outcome?.error}`);
  }
}

const rows = async (sql: string) => ((await engine.transaction([sql])) as Record<string, unknown>[][])[0]!;
const count = async (sql: string) => Number((await rows(sql))[0]!.n);

/** What a dry run must not change: every table it could touch, and both buckets. */
async function snapshot() {
  return {
    transactions: await rows("SELECT transaction_id, source_key FROM transactions ORDER BY 1"),
    items: await count("SELECT COUNT(*) AS n FROM transaction_items"),
    loads: await rows("SELECT load_id, superseded_by FROM loads ORDER BY 1"),
    outcomes: await count("SELECT COUNT(*) AS n FROM file_outcomes"),
    loadSales: await count("SELECT COUNT(*) AS n FROM load_sales"),
    raw: s3.keys(RAW).sort(),
    transformed: s3.keys(TRANSFORMED).sort(),
  };
}

/** Runs a command as `coffeetl ARGS` would (parsing included): its own lines, and everything written (Lambda logs included). */
async function cli(args: string[], run: (ctx: NonNullable<ReturnType<typeof parseCommandLine>["ctx"]>) => Promise<number>) {
  const { ctx } = parseCommandLine(args);
  let out = "";
  let err = "";
  let all = "";
  const originals = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr), log: console.log };
  const capture = (to: "out" | "err") =>
    ((chunk: string | Uint8Array) => {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      all += text;
      // Powertools' JSON log lines of the functions (run meanwhile) are not the command's output.
      if (!text.trimStart().startsWith("{")) to === "out" ? (out += text) : (err += text);
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture("out");
  process.stderr.write = capture("err");
  console.log = (...a: unknown[]) => void (all += a.join(" ") + "\n");
  try {
    clearParameterCache();
    const code = await run(ctx!);
    return { code, out, err, all };
  } finally {
    process.stdout.write = originals.out;
    process.stderr.write = originals.err;
    console.log = originals.log;
  }
}

/** forget --yes while the notification delivers what it writes (polled as S3 would notify: soon after). */
async function forgetWhileDelivering(args: string[]) {
  return cli(args, (ctx) =>
    forgetCommand(ctx, {
      pollMs: 5,
      sleep: async (ms) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        await deliver();
      },
    }),
  );
}

const secretReads = () => ssm.commandCalls(GetParameterCommand).filter((c) => c.args[0].input.Name === SECRET_PARAMETER);

await upload(MARCH_4, day);
await upload(RESENT, [...day.slice(0, SHARED), ...own]);
await deliver();
const sharedIds = (await rows(`SELECT transaction_id FROM transactions WHERE source_key = '${RESENT}'`)).length;

test("set-up: both files loaded through the functions; the resent file holds 40 sales of the 4 March file", async () => {
  assert.is(manifestsWritten.length, 2);
  assert.is(await count(`SELECT COUNT(*) AS n FROM transactions WHERE source_key = '${MARCH_4}'`), 200);
  assert.is(sharedIds, 25, "the resent file brought only its own");
  assert.is(await count(`SELECT COUNT(*) AS n FROM load_sales m JOIN loads l ON l.load_id = m.load_id WHERE l.source_key = '${RESENT}'`), SHARED);
});

test("forget --outputs without --yes: says what would go, changes nothing, reads no secret", async () => {
  const before = await snapshot();
  const readsBefore = secretReads().length;
  const dry = await cli(["forget", "2024-03-04.csv", "--outputs", outputsFile], (ctx) => forgetCommand(ctx));
  assert.is(dry.code, 0, dry.err);
  assert.match(
    dry.out,
    /^Would withdraw uploads\/leeds\/2024-03-04\.csv \(load [0-9a-f]{12}, 200 rows\): 160 sales and their items; 40 sales another file also holds stay\.\n/,
  );
  assert.match(dry.out, /Nothing changed\. Run again with --yes/);
  assert.equal(await snapshot(), before);
  assert.is(secretReads().length, readsBefore);
  // Planned through the Data API, as the stack's reader.
  assert.ok(
    redshift.mock
      .commandCalls(ExecuteStatementCommand)
      .some((c) => /FROM loads WHERE source_key = 'uploads\/leeds\/2024-03-04\.csv'/.test(c.args[0].input.Sql!)),
  );
});

let withdrawnAll = "";
test("forget --outputs --yes: the withdrawal lands in the transformed bucket, the load takes it, the file is withdrawn; shared sales stay", async () => {
  const itemsOfShared = await count(
    `SELECT COUNT(*) AS n FROM transaction_items WHERE transaction_id IN (SELECT transaction_id FROM load_sales m JOIN loads l ON l.load_id = m.load_id WHERE l.source_key = '${RESENT}')`,
  );
  const written = manifestsWritten.length;
  const run = await forgetWhileDelivering(["forget", "uploads/leeds/2024-03-04.csv", "--yes", "--outputs", outputsFile]);
  withdrawnAll = run.all;
  assert.is(run.code, 0, run.err);
  // The withdrawal's manifest in the transformed bucket, under the file's own key, with no rows.
  assert.is(manifestsWritten.length, written + 1);
  const manifestKey = manifestsWritten.at(-1)!;
  assert.ok(manifestKey.startsWith("uploads/leeds/2024-03-04"), manifestKey);
  const manifest = JSON.parse(s3.text(TRANSFORMED, manifestKey)) as { rowsRead: number; source: { key: string } };
  assert.is(manifest.rowsRead, 0);
  assert.is(manifest.source.key, MARCH_4);
  assert.match(run.out, new RegExp(`^Wrote the withdrawal of uploads/leeds/2024-03-04\\.csv to s3://${TRANSFORMED}/${manifestKey.replace(/\./g, "\\.")};`));
  assert.match(
    run.out,
    /\nWithdrew uploads\/leeds\/2024-03-04\.csv \(load [0-9a-f]{12}, 200 rows\): 160 sales and their items; 40 sales another file also holds stay\.\n$/,
  );
  assert.match(run.err, /… waiting for the load function to withdraw it \(\d+ s of at most 300 s\)/);
  // The secret was read decrypted, from the parameter the outputs name.
  assert.equal(secretReads().at(-1)!.args[0].input, { Name: SECRET_PARAMETER, WithDecryption: true });

  assert.is(await count(`SELECT COUNT(*) AS n FROM transactions WHERE source_key = '${MARCH_4}'`), 0, "no sale is the 4 March file's");
  assert.is(await count(`SELECT COUNT(*) AS n FROM transactions WHERE source_key = '${RESENT}'`), SHARED + 25, "the shared sales moved to the resent file");
  assert.is(await count("SELECT COUNT(*) AS n FROM transactions"), SHARED + 25);
  assert.is(
    await count(`SELECT COUNT(*) AS n FROM transaction_items WHERE transaction_id NOT IN (SELECT transaction_id FROM transactions)`),
    0,
    "no item without its sale",
  );
  assert.is(
    await count(
      `SELECT COUNT(*) AS n FROM transaction_items WHERE transaction_id IN (SELECT transaction_id FROM load_sales m JOIN loads l ON l.load_id = m.load_id WHERE l.source_key = '${RESENT}')`,
    ),
    itemsOfShared,
  );
  const [current] = await rows(`SELECT rows_read FROM loads WHERE source_key = '${MARCH_4}' AND superseded_by IS NULL`);
  assert.is(Number(current!.rows_read), 0);
});

test("status --outputs shows the file withdrawn; forget again says it is already withdrawn", async () => {
  const status = await cli(["status", "--outputs", outputsFile], statusCommand);
  assert.is(status.code, 0);
  assert.match(status.out, /^2 files: 1 loaded, 1 withdrawn/);
  assert.match(status.out, /\| withdrawn +\| 0 +\|.*\| uploads\/leeds\/2024-03-04\.csv /);
  const again = await cli(["forget", "2024-03-04.csv", "--yes", "--outputs", outputsFile], (ctx) => forgetCommand(ctx));
  assert.is(again.code, 1);
  assert.match(again.err, /forget: uploads\/leeds\/2024-03-04\.csv: already withdrawn/);
});

test("a later re-upload loads again, and forgetting it a second time withdraws it again", async () => {
  await upload(MARCH_4, day);
  await deliver();
  assert.is(await count(`SELECT COUNT(*) AS n FROM transactions WHERE source_key = '${MARCH_4}'`), 160);
  assert.is(await count("SELECT COUNT(*) AS n FROM transactions"), 225);
  const status = await cli(["status", "--json", "--outputs", outputsFile], statusCommand);
  assert.equal(
    (JSON.parse(status.out) as { source_key: string; outcome: string }[]).map((r) => `${r.source_key}:${r.outcome}`).sort(),
    [`${MARCH_4}:loaded`, `${RESENT}:loaded`].sort(),
  );
  // The withdrawal was written before: its manifest is written again, so the notification fires again.
  const run = await forgetWhileDelivering(["forget", "2024-03-04.csv", "--yes", "--timeout", "20", "--outputs", outputsFile]);
  withdrawnAll += run.all;
  assert.is(run.code, 0, run.err);
  assert.match(run.out, /Withdrew uploads\/leeds\/2024-03-04\.csv .*: 160 sales/);
  assert.is(await count(`SELECT COUNT(*) AS n FROM transactions WHERE source_key = '${MARCH_4}'`), 0);
});

test("forget --outputs --yes with no load in time: says how to check later, exits 1", async () => {
  await upload(MARCH_4, day);
  await deliver();
  // Nothing delivers the withdrawal this time (a notification not yet sent).
  const run = await cli(["forget", "2024-03-04.csv", "--yes", "--timeout", "1", "--outputs", outputsFile], (ctx) => forgetCommand(ctx, { pollMs: 50 }));
  withdrawnAll += run.all;
  assert.is(run.code, 1);
  assert.match(
    run.err,
    new RegExp(
      `not shown withdrawn within 1 s\\. The withdrawal is written .*\`coffeetl status --outputs ${outputsFile.replace(/\./g, "\\.")}\` shows the file withdrawn`,
    ),
  );
  // Delivered later, it withdraws the file.
  await deliver();
  assert.is(await count(`SELECT COUNT(*) AS n FROM transactions WHERE source_key = '${MARCH_4}'`), 0);
});

test("forget --outputs --yes whose withdrawal the load refuses (keyed with another secret than the warehouse's): the reason, exit 1", async () => {
  await upload(MARCH_4, day);
  await deliver();
  const other = "another-transaction-secret-of-enough-length";
  ssm.on(GetParameterCommand, { Name: SECRET_PARAMETER }).resolves({ Parameter: { Name: SECRET_PARAMETER, Type: "SecureString", Value: other } });
  failing = true;
  try {
    const run = await forgetWhileDelivering(["forget", "2024-03-04.csv", "--yes", "--timeout", "20", "--outputs", outputsFile]);
    withdrawnAll += run.all;
    assert.is(run.code, 1);
    assert.match(run.err, /forget: uploads\/leeds\/2024-03-04\.csv: the load of the withdrawal failed: .*key/i);
    assert.not.ok(run.all.includes(other));
  } finally {
    failing = false;
    ssm.on(GetParameterCommand, { Name: SECRET_PARAMETER }).resolves({ Parameter: { Name: SECRET_PARAMETER, Type: "SecureString", Value: SECRET } });
  }
  assert.is(await count(`SELECT COUNT(*) AS n FROM transactions WHERE source_key = '${MARCH_4}'`), 160, "nothing withdrawn");
});

test("the transaction secret never appears in any output, the functions' logs included", () => {
  assert.ok(withdrawnAll.length > 0);
  assert.not.ok(withdrawnAll.includes(SECRET));
  assert.not.ok(withdrawnAll.includes(SECRET.slice(0, 16)));
});

test("usage: --timeout goes with --outputs; a stack without the secret's output is named", async () => {
  const local = await cli(["forget", "x.csv", "--timeout", "5", "--home", dir.path], (ctx) => forgetCommand(ctx)).catch((e: Error) => e);
  assert.instance(local, Error);
  assert.match((local as Error).message, /--timeout goes with --outputs/);
  const old = join(dir.path, "old-outputs.json");
  const { transactionIdKeyParameter: _, ...older } = OUTPUTS;
  writeFileSync(old, JSON.stringify(older));
  await upload(MARCH_4, day);
  await deliver();
  const error = await cli(["forget", "2024-03-04.csv", "--yes", "--outputs", old], (ctx) => forgetCommand(ctx)).catch((e: Error) => e);
  assert.instance(error, Error);
  assert.match((error as Error).message, /old-outputs\.json has no transactionIdKeyParameter output/);
});

test("the built CLI takes forget --outputs without a home, and names a missing outputs file", () => {
  const r = runCoffeetlSync(["forget", "x.csv", "--outputs", join(dir.path, "missing.json"), "--home", join(dir.path, "no-home")], { cwd: dir.path });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /cannot read .*missing\.json: no such file \(write it with `pulumi stack output --json > /);
  assert.not.match(r.stderr, /no CoffeETL home/);
});

test.after(async () => {
  await engine.close();
  await dir.remove();
});

test.run();
