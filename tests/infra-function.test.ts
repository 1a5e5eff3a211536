// infra/function.ts alone under mocks: a pipeline Lambda with its own role (own logs, the dead-letter
// queue when asynchronous, the caller's statements, nothing else), a log group with retention, bounded
// async retries to the dead-letter queue, and only the alarms asked for.
import * as pulumi from "@pulumi/pulumi";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { PipelineFunction } from "../infra/function.js";
import { declare } from "./infra/component.js";
import { statementsOf } from "./infra/harness.js";

const DLQ = "arn:aws:sqs:eu-west-2:123456789012:coffeetl-acme-prod-dlq";
const TOPIC = "arn:aws:sns:eu-west-2:123456789012:alarms";
const ctx = {
  partition: pulumi.output("aws"),
  region: pulumi.output("eu-west-2"),
  accountId: pulumi.output("123456789012"),
  dnsSuffix: pulumi.output("amazonaws.com"),
};
const common = {
  description: "d",
  entry: "functions/upload-check/handler.ts",
  context: ctx,
  environment: { RAW_BUCKET: "raw" },
  statements: [{ Sid: "ReadRaw", Effect: "Allow" as const, Action: "s3:GetObject", Resource: "arn:aws:s3:::raw/*" }],
  memoryMb: 512,
  timeoutSeconds: 60,
  logRetentionDays: 30,
  logLevel: "INFO" as const,
};
const d = await declare(() => {
  new PipelineFunction("et", {
    ...common,
    functionName: "coffeetl-acme-prod-extract-transform",
    async: { maxRetryAttempts: 2, maxEventAgeSeconds: 3600, deadLetterQueue: { arn: DLQ } },
    alarms: { topicArn: TOPIC, errors: 0, asyncEventAgeSeconds: 600 },
    roleTags: { RedshiftDbRoles: "coffeetl_writer" },
  });
  new PipelineFunction("load", { ...common, functionName: "coffeetl-acme-prod-load" });
});

test("the function: fixed name, arm64, its log group, the environment every function gets; made after its policy and log group", () => {
  const fn = d.one("aws:lambda/function:Function", "et");
  assert.equal(
    [fn.inputs.name, fn.inputs.runtime, fn.inputs.architectures, fn.inputs.memorySize, fn.inputs.timeout],
    ["coffeetl-acme-prod-extract-transform", "nodejs22.x", ["arm64"], 512, 60],
  );
  assert.equal(fn.inputs.environment.variables, {
    RAW_BUCKET: "raw",
    LOG_LEVEL: "INFO",
    POWERTOOLS_SERVICE_NAME: "coffeetl-acme-prod-extract-transform",
    NODE_OPTIONS: "--enable-source-maps",
  });
  assert.is(fn.inputs.loggingConfig.logGroup, "/aws/lambda/coffeetl-acme-prod-extract-transform");
  assert.is(fn.inputs.reservedConcurrentExecutions, -1, "no concurrency reserved unless asked");
  assert.match(fn.inputs.tags["coffeetl:code-sha256"], /^[0-9a-f]{16}$/);
  assert.equal(fn.dependsOn.sort(), ["et-logs", "et-policy"]);
  assert.is(d.one("aws:cloudwatch/logGroup:LogGroup", "et-logs").inputs.retentionInDays, 30);
});

test("its role: assumed by Lambda only; may write its own log streams, send to its dead-letter queue, and what the caller granted", () => {
  const role = d.one("aws:iam/role:Role", "et-role");
  assert.equal(statementsOf(role.inputs.assumeRolePolicy)[0]!.Principal, { Service: "lambda.amazonaws.com" });
  assert.is(role.inputs.tags.RedshiftDbRoles, "coffeetl_writer");
  const statements = statementsOf(d.one("aws:iam/rolePolicy:RolePolicy", "et-policy").inputs.policy);
  assert.equal(
    statements.map((s) => s.Sid),
    ["WriteOwnLogs", "SendFailedEventsToDeadLetterQueue", "ReadRaw"],
  );
  assert.equal(statements[0]!.Action, ["logs:CreateLogStream", "logs:PutLogEvents"]);
  assert.match(statements[0]!.Resource, /:log-group:.*:log-stream:\*$/);
  assert.is(statements[1]!.Resource, DLQ);
  const load = statementsOf(d.one("aws:iam/rolePolicy:RolePolicy", "load-policy").inputs.policy);
  assert.equal(
    load.map((s) => s.Sid),
    ["WriteOwnLogs", "ReadRaw"],
    "a queue consumer has no dead-letter statement",
  );
});

test("asynchronous: bounded retries and event age, failures to the dead-letter queue; none for a queue consumer", () => {
  const cfg = d.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "et-async");
  assert.equal([cfg.inputs.maximumRetryAttempts, cfg.inputs.maximumEventAgeInSeconds], [2, 3600]);
  assert.equal(cfg.inputs.destinationConfig, { onFailure: { destination: DLQ } });
  assert.equal(cfg.dependsOn, ["et-policy"]);
  assert.equal(
    d.byType("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").map((c) => c.name),
    ["et-async"],
  );
});

test("alarms: only those with a threshold, on this function, to the topic", () => {
  const alarms = d.byType("aws:cloudwatch/metricAlarm:MetricAlarm");
  assert.equal(alarms.map((a) => a.name).sort(), ["et-errors-alarm", "et-event-age-alarm"]);
  for (const a of alarms) {
    assert.equal(a.inputs.dimensions, { FunctionName: "coffeetl-acme-prod-extract-transform" });
    assert.equal(a.inputs.alarmActions, [TOPIC]);
  }
  assert.is(d.one("aws:cloudwatch/metricAlarm:MetricAlarm", "et-event-age-alarm").inputs.metricName, "AsyncEventAge");
});

test.run();
