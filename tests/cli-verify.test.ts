// `coffeetl verify` against moto (buckets, queues, parameters, alarms), the Data API stand-in and a
// stand-in Grafana: all ✔ on a healthy stack with the pipeline running (the handlers on moto's own
// events), and its own ✘ line and exit 1 for each way a deployment breaks.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from "@aws-sdk/client-cloudwatch";
import { RedshiftDataClient } from "@aws-sdk/client-redshift-data";
import { ListObjectsV2Command, ListObjectVersionsCommand, S3Client } from "@aws-sdk/client-s3";
import { PurgeQueueCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import type { Context } from "aws-lambda";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CANARY_PREFIX, verifyCommand, type VerifyClients } from "../cli/verify.js";
import { readerTables } from "../functions/warehouse/reader-role.js";
import { captureOutput } from "./fixtures/aws/capture.js";
import { FakeRedshift } from "./fixtures/aws/fake-redshift.js";
import { lambdaContext } from "./fixtures/aws/fake-s3.js";
import { ACCOUNT, BASE_CONFIG, REGION, createMotoStack, motoMissing, motoPipeline, startMoto } from "./fixtures/aws/moto.js";
import { tempDir } from "./helpers.js";

const missing = motoMissing();
if (missing) {
  console.log(`[skip] moto suites: ${missing}`);
  test.skip("verify against moto", () => {});
  test.run();
} else {
  await suite();
}

async function suite() {
  process.env.LOG_LEVEL = "ERROR";
  const moto = await startMoto();
  const stack = await createMotoStack(BASE_CONFIG);
  process.env.TRANSFORMED_BUCKET = stack.transformedBucket;
  process.env.TRANSACTION_ID_KEY_PARAMETER = stack.layout.transactionIdKeyParameter;
  process.env.WAREHOUSE_PARAMETER_NAME = String(stack.outputs.warehouseParameterName);
  const dir = await tempDir();
  const s3 = new S3Client({});
  const sqs = new SQSClient({});
  const ssm = new SSMClient({});
  const cloudwatch = new CloudWatchClient({});
  const capture = captureOutput();

  // The warehouse: the Data API stand-in, answering verify's reads from what the load wrote.
  const redshift = new FakeRedshift();
  redshift.runningPolls = 0;
  const revoked = new Set<string>();
  const executed: string[] = [];
  redshift.answer = (sql) => {
    executed.push(sql);
    const outcome = /FROM file_outcomes WHERE source_key = '([^']+)'/.exec(sql);
    if (outcome) return [...redshift.loads.values()].filter((r) => r.source_key === outcome[1]).map(() => ({ outcome: "loaded", reason: null }));
    if (sql.includes("has_table_privilege")) return readerTables().map((t) => ({ table_name: t, ok: !revoked.has(t) }));
    return undefined;
  };

  // The pipeline, running as Lambda would while verify waits.
  const transform = (await import("../functions/extract-transform/handler.js")).handler;
  const load = (await import("../functions/load/handler.js")).handler;
  const context = lambdaContext() as unknown as Context;
  const pipeline = motoPipeline(stack, { load, context });
  let running = true;
  let stopped = false;
  const runner = (async () => {
    while (!stopped) {
      if (running) {
        for (const event of await pipeline.rawEvents()) await transform(event, context).catch(() => {});
        await pipeline.drainLoadQueue();
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();

  // Grafana: /api/health and a viewer's basic-auth login.
  const viewerParameter = "/coffeetl/moto/grafana/viewers/acme-viewer";
  const viewerPassword = "viewer-Pa55-0123456789";
  await ssm.send(new PutParameterCommand({ Name: viewerParameter, Value: viewerPassword, Type: "SecureString" }));
  let refuseLogins = false;
  const grafana: Server = createServer((req, res) => {
    if (req.url === "/api/health") return res.writeHead(200, { "content-type": "application/json" }).end('{"database":"ok","version":"12.4.0"}');
    const expected = `Basic ${Buffer.from(`acme-viewer:${viewerPassword}`).toString("base64")}`;
    if (req.url === "/api/user" && req.headers.authorization === expected && !refuseLogins) return res.writeHead(200).end('{"login":"acme-viewer"}');
    res.writeHead(401).end('{"message":"Invalid username or password"}');
  });
  await new Promise<void>((r) => grafana.listen(0, "127.0.0.1", r));
  const grafanaUrl = `http://127.0.0.1:${(grafana.address() as AddressInfo).port}`;

  // An alarm of the stack (its actions name the alarm topic), in OK.
  const topic = `arn:aws:sns:${REGION}:${ACCOUNT}:coffeetl-moto-alarms`;
  await cloudwatch.send(
    new PutMetricAlarmCommand({
      AlarmName: "coffeetl-moto-load-dlq",
      AlarmActions: [topic],
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Statistic: "Maximum",
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
    }),
  );
  await cloudwatch.send(new SetAlarmStateCommand({ AlarmName: "coffeetl-moto-load-dlq", StateValue: "OK", StateReason: "test" }));

  const clients: VerifyClients = { s3, sqs, ssm, cloudwatch, redshift: new RedshiftDataClient({}) };
  const writeOutputs = (change: Record<string, unknown> = {}) => {
    const file = join(dir.path, "outputs.json");
    writeFileSync(file, JSON.stringify({ ...stack.outputs, grafanaUrl, grafanaViewerPasswordParameters: [viewerParameter], alarmTopicArn: topic, ...change }));
    return file;
  };
  async function run(values: Record<string, string | boolean> = {}, change: Record<string, unknown> = {}) {
    const before = capture.text().length;
    const status = await verifyCommand({ values: { outputs: writeOutputs(change), timeout: "30", ...values }, args: [] } as never, clients);
    return { status, out: capture.text().slice(before) };
  }
  const canaryObjects = async () => {
    const raw = await s3.send(new ListObjectVersionsCommand({ Bucket: stack.rawBucket, Prefix: CANARY_PREFIX }));
    const out = await s3.send(new ListObjectsV2Command({ Bucket: stack.transformedBucket, Prefix: CANARY_PREFIX }));
    return (raw.Versions?.length ?? 0) + (raw.DeleteMarkers?.length ?? 0) + (out.KeyCount ?? 0);
  };

  test("a healthy stack: every check ✔, the canary loaded and then removed from the warehouse and both buckets; exit 0", async () => {
    const { status, out } = await run();
    assert.is(status, 0, out);
    for (const name of [
      "raw bucket takes an upload",
      "canary transformed and loaded",
      "canary removed",
      "reader can SELECT every table",
      "Grafana answers /api/health",
      "Grafana viewer login",
      "alarms not in ALARM",
      "dead-letter queues empty",
    ]) {
      assert.match(out, new RegExp(`✔ ${name}: `), name);
    }
    assert.match(out, /All 8 checks passed\./);
    const loaded = [...redshift.loads.values()].filter((r) => String(r.source_key).startsWith(CANARY_PREFIX));
    assert.is(loaded.length, 1, "the canary went through the real handlers");
    const key = String(loaded[0]!.source_key);
    for (const table of ["transaction_items", "load_sales", "transactions", "loads", "file_outcomes"]) {
      assert.ok(
        executed.some((q) => q.startsWith(`DELETE FROM ${table} `) && q.includes(key)),
        `canary rows deleted from ${table}`,
      );
    }
    assert.is(await canaryObjects(), 0, "no canary object left in either bucket");
  });

  test("--json: the same checks for machines", async () => {
    const { status, out } = await run({ json: true });
    const start = out.indexOf('{\n  "ok"');
    const report = JSON.parse(out.slice(start, out.indexOf("\n}\n", start) + 2)) as { ok: boolean; checks: { name: string; ok: boolean }[] };
    assert.is(status, 0);
    assert.is(report.ok, true);
    assert.is(report.checks.length, 8);
  });

  test("the canary never loaded: its own ✘ line with the fix, a progress line while waiting, exit 1", async () => {
    running = false;
    const { status, out } = await run({ timeout: "2" });
    running = true;
    assert.is(status, 1);
    assert.match(out, /✘ canary transformed and loaded: no file_outcomes row after \d+ s\n    fix: look at the extract-transform and load functions' logs/);
    assert.match(out, /… waiting for the canary to be transformed and loaded/);
    assert.match(out, /✔ canary removed/, "removed even when it never loaded");
    assert.match(out, /✔ Grafana answers/, "the other checks still ran");
    assert.match(out, /1 of 8 checks failed\./);
    await new Promise((r) => setTimeout(r, 1000)); // the runner drains the late canary's events
  });

  test("a reader missing SELECT on a table: ✘ naming the table and the GRANT, exit 1", async () => {
    revoked.add("file_outcomes");
    const { status, out } = await run();
    revoked.clear();
    assert.is(status, 1);
    assert.match(
      out,
      /✘ reader can SELECT every table: coffeetl_grafana may not SELECT file_outcomes\n    fix: .*GRANT SELECT ON file_outcomes TO coffeetl_grafana/,
    );
    assert.match(out, /1 of 8 checks failed\./);
  });

  test("Grafana unreachable: ✘ for its health (and so its login), exit 1", async () => {
    // A port nothing listens on any more.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const { status, out } = await run({}, { grafanaUrl: `http://127.0.0.1:${port}` });
    assert.is(status, 1);
    assert.match(out, /✘ Grafana answers \/api\/health: http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.*\n    fix: is the instance running/);
    assert.match(out, /✘ Grafana viewer login: .*\n    fix: fix Grafana's health first/);
  });

  test("a viewer login refused: its own ✘ line, exit 1", async () => {
    refuseLogins = true;
    const { status, out } = await run();
    refuseLogins = false;
    assert.is(status, 1);
    assert.match(out, /✔ Grafana answers \/api\/health/);
    assert.match(
      out,
      /✘ Grafana viewer login: acme-viewer: refused \(HTTP 401\)\n    fix: the host sets viewer passwords from \/coffeetl\/moto\/grafana\/viewers\/acme-viewer/,
    );
    assert.match(out, /1 of 8 checks failed\./);
  });

  test("a non-empty dead-letter queue: ✘ naming the queue and the redrive, exit 1; an alarm in ALARM likewise", async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: stack.loadDeadLetterQueueUrl, MessageBody: "{}" }));
    const { status, out } = await run();
    await sqs.send(new PurgeQueueCommand({ QueueUrl: stack.loadDeadLetterQueueUrl }));
    assert.is(status, 1);
    assert.match(out, /✘ dead-letter queues empty: coffeetl-moto-load-dlq: 1 message\(s\)\n    fix: .*coffeetl redrive --outputs outputs\.json/);
    assert.match(out, /1 of 8 checks failed\./);

    await cloudwatch.send(new SetAlarmStateCommand({ AlarmName: "coffeetl-moto-load-dlq", StateValue: "ALARM", StateReason: "test" }));
    const alarmed = await run();
    assert.is(alarmed.status, 1);
    assert.match(alarmed.out, /✘ alarms not in ALARM: coffeetl-moto-load-dlq/);
  });

  test.after(async () => {
    stopped = true;
    await runner;
    capture.stop();
    redshift.mock.restore();
    grafana.close();
    await moto.stop();
    await dir.remove();
  });
  test.run();
}
