// infra/load-queue.ts alone under mocks: the manifest queue S3 may send to only from the one bucket of
// this account, its redrive to its own dead-letter queue, its visibility and retention, its alarms.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LoadQueue } from "../infra/load-queue.js";
import { declare } from "./infra/component.js";
import { statementsOf } from "./infra/harness.js";

const BUCKET = "arn:aws:s3:::coffeetl-acme-transformed-1";
const TOPIC = "arn:aws:sns:eu-west-2:123456789012:alarms";
const d = await declare(() => {
  new LoadQueue("load", {
    queueName: "coffeetl-acme-prod-load",
    deadLetterQueueName: "coffeetl-acme-prod-load-dlq",
    sourceBucketArn: BUCKET,
    accountId: "123456789012",
    consumerTimeoutSeconds: 120,
    maxReceives: 5,
    alarmTopicArn: TOPIC,
    oldestMessageAlarmSeconds: 900,
    consumerServiceName: "coffeetl-load",
    failedManifestsAlarmThreshold: 0,
    deadLetterAlarmThreshold: 0,
  });
});
const queue = d.one("aws:sqs/queue:Queue", "load");
const dlq = d.one("aws:sqs/queue:Queue", "load-dlq");

test("encrypted; invisible for six consumer timeouts; kept 4 days, less than its dead-letter queue", () => {
  assert.is(queue.inputs.sqsManagedSseEnabled, true);
  assert.is(queue.inputs.visibilityTimeoutSeconds, 720);
  assert.is(queue.inputs.messageRetentionSeconds, 4 * 24 * 3600);
  assert.ok(queue.inputs.messageRetentionSeconds < dlq.inputs.messageRetentionSeconds);
});

test("after maxReceives a message moves to its dead-letter queue, which accepts only this queue", () => {
  assert.equal(JSON.parse(queue.inputs.redrivePolicy), { deadLetterTargetArn: dlq.props.arn, maxReceiveCount: 5 });
  const allow = d.one("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "load-redrive-allow");
  assert.is(allow.inputs.queueUrl, dlq.id);
  assert.equal(JSON.parse(allow.inputs.redriveAllowPolicy), { redrivePermission: "byQueue", sourceQueueArns: [queue.props.arn] });
});

test("S3 may send only from the transformed bucket of this account, and only over TLS", () => {
  const statements = statementsOf(d.one("aws:sqs/queuePolicy:QueuePolicy", "load-policy").inputs.policy);
  assert.equal(
    statements.map((s) => s.Effect),
    ["Deny", "Allow"],
  );
  assert.equal(statements[0]!.Condition, { Bool: { "aws:SecureTransport": "false" } });
  const allow = statements[1]!;
  assert.equal(allow.Principal, { Service: "s3.amazonaws.com" });
  assert.is(allow.Action, "sqs:SendMessage");
  assert.is(allow.Resource, queue.props.arn);
  assert.equal(allow.Condition, { ArnEquals: { "aws:SourceArn": BUCKET }, StringEquals: { "aws:SourceAccount": "123456789012" } });
});

test("alarms: the oldest message's age, manifests the consumer failed, the dead-letter depth", () => {
  const alarms = Object.fromEntries(d.byType("aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => [a.name, a.inputs]));
  assert.equal(Object.keys(alarms).sort(), ["load-age-alarm", "load-dlq-alarm", "load-failures-alarm"]);
  assert.is(alarms["load-age-alarm"]!.metricName, "ApproximateAgeOfOldestMessage");
  assert.is(alarms["load-age-alarm"]!.threshold, 900);
  assert.equal(alarms["load-failures-alarm"]!.dimensions, { service: "coffeetl-load" });
  assert.is(alarms["load-failures-alarm"]!.namespace, "CoffeETL");
  assert.equal(alarms["load-dlq-alarm"]!.dimensions, { QueueName: "coffeetl-acme-prod-load-dlq" });
  for (const a of Object.values(alarms)) assert.equal(a.alarmActions, [TOPIC]);
});

test.run();
