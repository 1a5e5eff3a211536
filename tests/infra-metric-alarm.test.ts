// infra/metric-alarm.ts alone under mocks: the settings every CoffeETL alarm shares.
import * as aws from "@pulumi/aws";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { metricAlarm } from "../infra/metric-alarm.js";
import { declare } from "./infra/component.js";

const settings = { description: "d", namespace: "AWS/Lambda", metricName: "Errors", dimensions: { FunctionName: "f" }, statistic: "Sum", threshold: 0 };
const d = await declare(() => {
  const parent = new aws.sns.Topic("parent", {});
  metricAlarm("told", settings, { topicArn: "arn:aws:sns:eu-west-2:123456789012:alarms" }, { parent });
  metricAlarm("console-only", { ...settings, period: 60, evaluationPeriods: 3 }, {}, {});
});

test("defaults: one 5-minute period above the threshold; missing data is not a breach", () => {
  const a = d.one("aws:cloudwatch/metricAlarm:MetricAlarm", "told").inputs;
  assert.equal([a.period, a.evaluationPeriods, a.comparisonOperator, a.treatMissingData], [300, 1, "GreaterThanThreshold", "notBreaching"]);
  assert.equal([a.namespace, a.metricName, a.statistic, a.threshold], ["AWS/Lambda", "Errors", "Sum", 0]);
  assert.equal(a.dimensions, { FunctionName: "f" });
});

test("the topic hears of the alarm and its recovery; without a topic, no actions", () => {
  const told = d.one("aws:cloudwatch/metricAlarm:MetricAlarm", "told").inputs;
  assert.equal(told.alarmActions, ["arn:aws:sns:eu-west-2:123456789012:alarms"]);
  assert.equal(told.okActions, told.alarmActions);
  const quiet = d.one("aws:cloudwatch/metricAlarm:MetricAlarm", "console-only").inputs;
  assert.equal([quiet.alarmActions, quiet.okActions], [[], []]);
  assert.equal([quiet.period, quiet.evaluationPeriods], [60, 3]);
});

test("the options given are kept (its parent)", () => {
  assert.is(d.one("aws:cloudwatch/metricAlarm:MetricAlarm", "told").parent, "aws:sns/topic:Topic::parent");
});

test.run();
