// infra/queue-trigger.ts alone under mocks: the SQS → Lambda mapping reports partial batch failures
// and caps concurrency through the mapping (no reserved concurrency), after what it must wait for.
import * as aws from "@pulumi/aws";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { QueueTrigger } from "../infra/queue-trigger.js";
import { declare } from "./infra/component.js";

const QUEUE = "arn:aws:sqs:eu-west-2:123456789012:coffeetl-acme-prod-load";
const d = await declare(() => {
  const fn = new aws.lambda.Function("load", { name: "coffeetl-acme-prod-load", role: "arn:aws:iam::123456789012:role/load" });
  const permissions = new aws.iam.RolePolicy("load-sqs", { role: "load", policy: "{}" });
  new QueueTrigger("load-trigger", { queueArn: QUEUE, function: fn, batchSize: 50, batchingWindowSeconds: 20, maxConcurrency: 2, dependsOn: [permissions] });
});

test("the mapping hands the function batches from the queue and returns only the failed messages", () => {
  const m = d.one("aws:lambda/eventSourceMapping:EventSourceMapping", "load-trigger-mapping");
  assert.is(m.inputs.eventSourceArn, QUEUE);
  assert.is(m.inputs.functionName, d.one("aws:lambda/function:Function", "load").props.arn);
  assert.equal([m.inputs.batchSize, m.inputs.maximumBatchingWindowInSeconds, m.inputs.enabled], [50, 20, true]);
  assert.equal(m.inputs.functionResponseTypes, ["ReportBatchItemFailures"]);
  assert.equal(m.inputs.scalingConfig, { maximumConcurrency: 2 });
  assert.is(m.parent, "coffeetl:pipeline:QueueTrigger::load-trigger");
});

test("it waits for the role's permissions (AWS checks them when the mapping is made)", () => {
  assert.equal(d.one("aws:lambda/eventSourceMapping:EventSourceMapping", "load-trigger-mapping").dependsOn, ["load-sqs"]);
});

test.run();
