// "Leeds has sent no file today": at the configured local time a schedule (EventBridge Scheduler,
// time-zone aware, so 10:00 stays 10:00 across daylight saving) runs functions/upload-check, which
// counts the uploaders with nothing under `uploads/<name>/` since local midnight and emits
// CoffeETL/BranchesWithoutUpload; an alarm on it notifies the alarm topic. The function lists only
// the uploads prefix of the raw bucket (it cannot read a file).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { LogLevel } from "./config.js";
import { PipelineFunction, type FunctionAlarmSettings } from "./function.js";
import { assumeRolePolicy, policyJson, type AwsContext } from "./iam.js";

export interface UploadCheckArgs {
  functionName: string;
  context: AwsContext;
  rawBucketName: pulumi.Input<string>;
  rawBucketArn: pulumi.Input<string>;
  uploaders: string[];
  /** Local HH:MM and IANA time zone. */
  deadline: string;
  timeZone: string;
  alarmTopicArn: pulumi.Input<string>;
  functionAlarms: FunctionAlarmSettings;
  deadLetterQueue: { arn: pulumi.Input<string> };
  logRetentionDays: number;
  logLevel: LogLevel;
  tags?: Record<string, string>;
}

export class UploadCheck extends pulumi.ComponentResource {
  readonly fn: PipelineFunction;
  readonly schedule: aws.scheduler.Schedule;
  readonly alarm: aws.cloudwatch.MetricAlarm;

  constructor(name: string, args: UploadCheckArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:uploads:UploadCheck", name, {}, opts);
    const parent = { parent: this };
    this.fn = new PipelineFunction(
      `${name}-function`,
      {
        functionName: args.functionName,
        description: "CoffeETL: which uploaders have sent no file today (runs at the upload deadline)",
        entry: "functions/upload-check/handler.ts",
        context: args.context,
        environment: { RAW_BUCKET: args.rawBucketName, UPLOADERS: args.uploaders.join(","), UPLOAD_TIME_ZONE: args.timeZone },
        statements: [
          {
            Sid: "ListUploadPrefixes",
            Effect: "Allow",
            Action: "s3:ListBucket",
            Resource: args.rawBucketArn,
            Condition: { StringLike: { "s3:prefix": "uploads/*" } },
          },
        ],
        memoryMb: 256,
        timeoutSeconds: 120,
        logRetentionDays: args.logRetentionDays,
        logLevel: args.logLevel,
        async: { maxRetryAttempts: 2, maxEventAgeSeconds: 3600, deadLetterQueue: args.deadLetterQueue },
        alarms: { ...args.functionAlarms, asyncEventAgeSeconds: undefined },
        tags: args.tags,
      },
      parent,
    );

    const role = new aws.iam.Role(
      `${name}-scheduler-role`,
      {
        description: `CoffeETL ${args.functionName} schedule`,
        assumeRolePolicy: assumeRolePolicy("scheduler.amazonaws.com", args.context.accountId),
        tags: args.tags,
      },
      parent,
    );
    const invoke = new aws.iam.RolePolicy(
      `${name}-scheduler-policy`,
      { role: role.id, policy: policyJson([{ Sid: "InvokeUploadCheck", Effect: "Allow", Action: "lambda:InvokeFunction", Resource: this.fn.arn }]) },
      parent,
    );
    const [hour, minute] = args.deadline.split(":").map(Number);
    this.schedule = new aws.scheduler.Schedule(
      `${name}-schedule`,
      {
        description: `CoffeETL: upload check at ${args.deadline} ${args.timeZone}`,
        scheduleExpression: `cron(${minute} ${hour} * * ? *)`,
        scheduleExpressionTimezone: args.timeZone,
        flexibleTimeWindow: { mode: "OFF" },
        target: { arn: this.fn.arn, roleArn: role.arn, retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 } },
      },
      { parent: this, dependsOn: [invoke] },
    );

    this.alarm = new aws.cloudwatch.MetricAlarm(
      `${name}-alarm`,
      {
        alarmDescription: `CoffeETL: some branches had sent no file by ${args.deadline} ${args.timeZone}; their names are in the "no upload today" log line of /aws/lambda/${args.functionName}.`,
        namespace: "CoffeETL",
        metricName: "BranchesWithoutUpload",
        dimensions: { service: args.functionName },
        statistic: "Maximum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: "GreaterThanThreshold",
        // One datapoint a day: missing data is the normal state between checks.
        treatMissingData: "notBreaching",
        alarmActions: [args.alarmTopicArn],
        tags: args.tags,
      },
      parent,
    );
    this.registerOutputs({ functionName: this.fn.name });
  }
}
