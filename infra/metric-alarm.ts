// One CloudWatch alarm on one metric, with the settings every CoffeETL alarm shares: a breach over
// one 5-minute period by default, missing data is not a breach, and the alarm topic told of both
// the alarm and its recovery.
import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";

export interface MetricAlarmSettings {
  description: pulumi.Input<string>;
  namespace: string;
  metricName: string;
  dimensions: Record<string, pulumi.Input<string>>;
  statistic: string;
  threshold: number;
  period?: number;
  evaluationPeriods?: number;
}

export interface AlarmTarget {
  /** The alarm topic; without one the alarm still shows in the console. */
  topicArn?: pulumi.Input<string>;
  tags?: Record<string, string>;
}

export function metricAlarm(name: string, settings: MetricAlarmSettings, target: AlarmTarget, opts: pulumi.CustomResourceOptions): aws.cloudwatch.MetricAlarm {
  const actions = target.topicArn ? [target.topicArn] : [];
  return new aws.cloudwatch.MetricAlarm(
    name,
    {
      alarmDescription: settings.description,
      namespace: settings.namespace,
      metricName: settings.metricName,
      dimensions: settings.dimensions,
      statistic: settings.statistic,
      period: settings.period ?? 300,
      evaluationPeriods: settings.evaluationPeriods ?? 1,
      threshold: settings.threshold,
      comparisonOperator: "GreaterThanThreshold",
      treatMissingData: "notBreaching",
      alarmActions: actions,
      okActions: actions,
      tags: target.tags,
    },
    opts,
  );
}
