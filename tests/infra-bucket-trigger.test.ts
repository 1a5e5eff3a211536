// infra/bucket-trigger.ts alone under mocks: one notification per bucket, one rule per suffix
// spelling; a function target gets an invoke permission scoped to the bucket and account, and the
// notification waits for it; a queue target waits for what the caller names.
import * as aws from "@pulumi/aws";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BucketTrigger, caseInsensitiveSuffixes } from "../infra/bucket-trigger.js";
import { declare } from "./infra/component.js";

const RAW = { id: "coffeetl-acme-raw-1", arn: "arn:aws:s3:::coffeetl-acme-raw-1" };
const d = await declare(() => {
  const fn = new aws.lambda.Function("et", { name: "coffeetl-acme-prod-extract-transform", role: "arn:aws:iam::123456789012:role/et" });
  const policy = new aws.sqs.QueuePolicy("load-policy", { queueUrl: "q", policy: "{}" });
  new BucketTrigger("raw-trigger", { bucket: RAW, target: { function: fn }, filterSuffixes: caseInsensitiveSuffixes(".csv"), accountId: "123456789012" });
  new BucketTrigger("transformed-trigger", {
    bucket: { id: "coffeetl-acme-transformed-1", arn: "arn:aws:s3:::coffeetl-acme-transformed-1" },
    target: { queueArn: "arn:aws:sqs:eu-west-2:123456789012:load" },
    filterSuffixes: ["manifest.json", "failed.json"],
    accountId: "123456789012",
    dependsOn: [policy],
  });
});

test("caseInsensitiveSuffixes: every spelling once, none a suffix of another; non-letters kept", () => {
  const all = caseInsensitiveSuffixes(".csv");
  assert.is(all.length, 8);
  assert.is(new Set(all).size, 8);
  assert.ok(all.includes(".csv") && all.includes(".CSV") && all.includes(".cSv"));
  assert.ok(all.every((a) => all.every((b) => a === b || !a.endsWith(b))));
  assert.equal(caseInsensitiveSuffixes(".7z"), [".7z", ".7Z"]);
});

test("function target: S3 may invoke it only for this bucket and account; the notification waits for that", () => {
  const p = d.one("aws:lambda/permission:Permission", "raw-trigger-permission");
  assert.equal(
    [p.inputs.action, p.inputs.function, p.inputs.principal, p.inputs.sourceArn, p.inputs.sourceAccount],
    ["lambda:InvokeFunction", "coffeetl-acme-prod-extract-transform", "s3.amazonaws.com", RAW.arn, "123456789012"],
  );
  const n = d.one("aws:s3/bucketNotification:BucketNotification", "raw-trigger-notification");
  assert.is(n.inputs.bucket, RAW.id);
  assert.equal(n.dependsOn, ["raw-trigger-permission"]);
  const rules = n.inputs.lambdaFunctions as any[];
  assert.equal(
    rules.map((r) => r.filterSuffix),
    caseInsensitiveSuffixes(".csv"),
  );
  for (const r of rules) assert.equal(r.events, ["s3:ObjectCreated:*"]);
  assert.is(n.inputs.queues, undefined);
});

test("queue target: one rule per suffix, no invoke permission, waits for the queue policy", () => {
  const n = d.one("aws:s3/bucketNotification:BucketNotification", "transformed-trigger-notification");
  assert.equal(
    (n.inputs.queues as any[]).map((r) => [r.queueArn, r.filterSuffix]),
    [
      ["arn:aws:sqs:eu-west-2:123456789012:load", "manifest.json"],
      ["arn:aws:sqs:eu-west-2:123456789012:load", "failed.json"],
    ],
  );
  assert.equal(n.dependsOn, ["load-policy"]);
  assert.equal(
    d.byType("aws:lambda/permission:Permission").map((p) => p.name),
    ["raw-trigger-permission"],
  );
});

test.run();
