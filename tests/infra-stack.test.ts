// infra/stack.ts alone under mocks (createStack with a parsed config, outside index.ts): the wiring its
// header draws. Raw .csv files (any case) invoke the extract-transform function, whose failures go to
// the dead-letter queue; manifests and transform failures go to the load queue, which feeds the load
// function; every alarm tells the one alarm topic; every resource carries the stack's tag.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseConfig } from "../infra/config.js";
import { createStack } from "../infra/stack.js";
import { declare } from "./infra/component.js";
import { settle } from "./infra/harness.js";

const config = parseConfig(
  {
    redshiftParameterName: "/coffeetl/acme-prod/redshift",
    grafanaAllowedCidrs: '["203.0.113.0/24"]',
    redshiftWorkgroupName: "analytics",
    uploaders: "leeds,york",
  },
  "acme-prod",
);
let outputs: ReturnType<typeof createStack> | undefined;
const d = await declare(() => {
  outputs = createStack(config);
});
const fn = (name: string) => d.one("aws:lambda/function:Function", name);
const queue = (name: string) => d.byType("aws:sqs/queue:Queue").find((q) => q.inputs.name === name)!;

test("raw bucket → extract-transform, on every spelling of .csv", () => {
  const n = d.one("aws:s3/bucketNotification:BucketNotification", "raw-to-extract-transform-notification");
  assert.is(n.inputs.bucket, d.one("aws:s3/bucket:Bucket", "raw").id);
  const rules = n.inputs.lambdaFunctions as { lambdaFunctionArn: string; filterSuffix: string }[];
  assert.is(rules.length, 8);
  for (const r of rules) assert.is(r.lambdaFunctionArn, fn("extract-transform").props.arn);
});

test("extract-transform's failed events → the dead-letter queue", () => {
  const cfg = d.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "extract-transform-async");
  assert.is(cfg.inputs.destinationConfig.onFailure.destination, queue("coffeetl-acme-prod-dlq").props.arn);
});

test("transformed bucket → load queue (manifest.json, failed.json) → load function", () => {
  const n = d.one("aws:s3/bucketNotification:BucketNotification", "transformed-to-load-queue-notification");
  assert.is(n.inputs.bucket, d.one("aws:s3/bucket:Bucket", "transformed").id);
  const load = queue("coffeetl-acme-prod-load");
  assert.equal(
    (n.inputs.queues as { queueArn: string; filterSuffix: string }[]).map((q) => [q.queueArn, q.filterSuffix]),
    [
      [load.props.arn, "manifest.json"],
      [load.props.arn, "failed.json"],
    ],
  );
  const mapping = d.one("aws:lambda/eventSourceMapping:EventSourceMapping", "load-queue-to-load-mapping");
  assert.equal([mapping.inputs.eventSourceArn, mapping.inputs.functionName], [load.props.arn, fn("load").props.arn]);
  assert.is(mapping.inputs.batchSize, config.loadQueue.batchSize);
});

test("every alarm tells the one alarm topic", () => {
  const [topic, ...others] = d.byType("aws:sns/topic:Topic");
  assert.equal(others, []);
  const alarms = d.byType("aws:cloudwatch/metricAlarm:MetricAlarm");
  assert.ok(alarms.length >= 8, `${alarms.length} alarms`);
  for (const a of alarms) assert.equal(a.inputs.alarmActions, [topic!.props.arn], a.name);
});

test("the outputs name what was made; every taggable resource carries the stack's tag", async () => {
  assert.is(await settle(outputs!.loadQueueUrl), queue("coffeetl-acme-prod-load").id);
  assert.is(await settle(outputs!.extractTransformFunctionName), "coffeetl-acme-prod-extract-transform");
  assert.equal(Object.keys(outputs!.uploadCredentialParameters).sort(), ["leeds", "york"]);
  for (const type of ["aws:s3/bucket:Bucket", "aws:sqs/queue:Queue", "aws:lambda/function:Function", "aws:sns/topic:Topic"]) {
    for (const r of d.byType(type)) assert.is(r.inputs.tags?.["coffeetl:stack"], "acme-prod", `${type} ${r.name}`);
  }
});

test.run();
