// infra/dead-letter-queue.ts alone under mocks: an encrypted, TLS-only queue that keeps messages the
// SQS maximum of 14 days, and an alarm on its depth only when a threshold is set.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { DeadLetterQueue } from "../infra/dead-letter-queue.js";
import { declare } from "./infra/component.js";
import { statementsOf } from "./infra/harness.js";

const TOPIC = "arn:aws:sns:eu-west-2:123456789012:alarms";
const d = await declare(() => {
  new DeadLetterQueue("dlq", { queueName: "coffeetl-acme-prod-dlq", meaning: "transforms failed after every retry", alarmTopicArn: TOPIC, alarmThreshold: 0 });
  new DeadLetterQueue("quiet", { queueName: "coffeetl-acme-prod-quiet", meaning: "unused" });
});

test("the queue has its physical name, SQS-managed encryption and 14 days' retention", () => {
  const q = d.one("aws:sqs/queue:Queue", "dlq");
  assert.is(q.inputs.name, "coffeetl-acme-prod-dlq");
  assert.is(q.inputs.sqsManagedSseEnabled, true);
  assert.is(q.inputs.messageRetentionSeconds, 14 * 24 * 3600);
  assert.is(q.parent, "coffeetl:pipeline:DeadLetterQueue::dlq");
});

test("its policy denies every request over plain HTTP", () => {
  const policy = d.one("aws:sqs/queuePolicy:QueuePolicy", "dlq-policy");
  assert.is(policy.inputs.queueUrl, d.one("aws:sqs/queue:Queue", "dlq").id);
  const [deny] = statementsOf(policy.inputs.policy);
  assert.equal(deny, {
    Sid: "DenyInsecureTransport",
    Effect: "Deny",
    Principal: "*",
    Action: "sqs:*",
    Resource: "arn:aws:sqs:eu-west-2:123456789012:coffeetl-acme-prod-dlq",
    Condition: { Bool: { "aws:SecureTransport": "false" } },
  });
});

test("with a threshold, an alarm on visible messages notifies the topic of the alarm and the recovery", () => {
  const alarm = d.one("aws:cloudwatch/metricAlarm:MetricAlarm", "dlq-alarm");
  assert.is(alarm.inputs.namespace, "AWS/SQS");
  assert.is(alarm.inputs.metricName, "ApproximateNumberOfMessagesVisible");
  assert.equal(alarm.inputs.dimensions, { QueueName: "coffeetl-acme-prod-dlq" });
  assert.is(alarm.inputs.threshold, 0);
  assert.equal(alarm.inputs.alarmActions, [TOPIC]);
  assert.equal(alarm.inputs.okActions, [TOPIC]);
  assert.match(alarm.inputs.alarmDescription, /transforms failed after every retry \(queue coffeetl-acme-prod-dlq; docs\/deploy.md, "Redrive"\)/);
});

test("without a threshold, no alarm", () => {
  assert.equal(
    d.byType("aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => a.name),
    ["dlq-alarm"],
  );
});

test.run();
