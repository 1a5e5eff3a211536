// infra/upload-check.ts alone under mocks: at the deadline in the branch's time zone a schedule runs
// the upload check, which may only list the uploads prefix of the raw bucket; the schedule's role may
// only invoke that function; an alarm fires when any branch has sent nothing.
import * as pulumi from "@pulumi/pulumi";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { UploadCheck } from "../infra/upload-check.js";
import { declare } from "./infra/component.js";
import { statementsOf } from "./infra/harness.js";

const ctx = {
  partition: pulumi.output("aws"),
  region: pulumi.output("eu-west-2"),
  accountId: pulumi.output("123456789012"),
  dnsSuffix: pulumi.output("amazonaws.com"),
};
const TOPIC = "arn:aws:sns:eu-west-2:123456789012:alarms";
const d = await declare(() => {
  new UploadCheck("check", {
    functionName: "coffeetl-acme-prod-upload-check",
    context: ctx,
    rawBucketName: "coffeetl-acme-raw-1",
    rawBucketArn: "arn:aws:s3:::coffeetl-acme-raw-1",
    uploaders: ["leeds", "york"],
    deadline: "10:30",
    timeZone: "Europe/London",
    alarmTopicArn: TOPIC,
    functionAlarms: { topicArn: TOPIC, errors: 0, asyncEventAgeSeconds: 600 },
    deadLetterQueue: { arn: "arn:aws:sqs:eu-west-2:123456789012:dlq" },
    logRetentionDays: 30,
    logLevel: "INFO",
  });
});

test("the schedule: the deadline's local time in its zone (daylight saving kept), retried, after its permission", () => {
  const s = d.one("aws:scheduler/schedule:Schedule", "check-schedule");
  assert.equal(
    [s.inputs.scheduleExpression, s.inputs.scheduleExpressionTimezone, s.inputs.flexibleTimeWindow],
    ["cron(30 10 * * ? *)", "Europe/London", { mode: "OFF" }],
  );
  assert.is(s.inputs.target.arn, d.one("aws:lambda/function:Function", "check-function").props.arn);
  assert.equal(s.dependsOn, ["check-scheduler-policy"]);
});

test("the function knows the uploaders and their zone, and may only list the uploads prefix", () => {
  const fn = d.one("aws:lambda/function:Function", "check-function");
  assert.equal(
    [fn.inputs.environment.variables.UPLOADERS, fn.inputs.environment.variables.UPLOAD_TIME_ZONE, fn.inputs.environment.variables.RAW_BUCKET],
    ["leeds,york", "Europe/London", "coffeetl-acme-raw-1"],
  );
  const own = statementsOf(d.one("aws:iam/rolePolicy:RolePolicy", "check-function-policy").inputs.policy).find((s) => s.Sid === "ListUploadPrefixes");
  assert.equal(own, {
    Sid: "ListUploadPrefixes",
    Effect: "Allow",
    Action: "s3:ListBucket",
    Resource: "arn:aws:s3:::coffeetl-acme-raw-1",
    Condition: { StringLike: { "s3:prefix": "uploads/*" } },
  });
  assert.not.ok(
    statementsOf(d.one("aws:iam/rolePolicy:RolePolicy", "check-function-policy").inputs.policy).some((s) => JSON.stringify(s.Action).includes("GetObject")),
  );
});

test("the scheduler's role: assumed by the scheduler for this account, may invoke only this function", () => {
  const [trust] = statementsOf(d.one("aws:iam/role:Role", "check-scheduler-role").inputs.assumeRolePolicy);
  assert.equal(trust!.Principal, { Service: "scheduler.amazonaws.com" });
  assert.equal(trust!.Condition, { StringEquals: { "aws:SourceAccount": "123456789012" } });
  assert.equal(statementsOf(d.one("aws:iam/rolePolicy:RolePolicy", "check-scheduler-policy").inputs.policy), [
    { Sid: "InvokeUploadCheck", Effect: "Allow", Action: "lambda:InvokeFunction", Resource: d.one("aws:lambda/function:Function", "check-function").props.arn },
  ]);
});

test("the alarm: any branch without an upload notifies the topic; a day without a check is not a breach; no event-age alarm", () => {
  const a = d.one("aws:cloudwatch/metricAlarm:MetricAlarm", "check-alarm").inputs;
  assert.equal(
    [a.namespace, a.metricName, a.threshold, a.comparisonOperator, a.treatMissingData],
    ["CoffeETL", "BranchesWithoutUpload", 0, "GreaterThanThreshold", "notBreaching"],
  );
  assert.equal(a.dimensions, { service: "coffeetl-acme-prod-upload-check" });
  assert.equal(a.alarmActions, [TOPIC]);
  assert.equal(
    d
      .byType("aws:cloudwatch/metricAlarm:MetricAlarm")
      .map((x) => x.name)
      .sort(),
    ["check-alarm", "check-function-errors-alarm"],
  );
});

test.run();
