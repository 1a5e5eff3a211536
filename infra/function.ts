// One pipeline Lambda: its esbuild bundle, its own IAM role (logs, the dead-letter queue and the
// statements the caller grants, nothing else), a log group with retention, for a function invoked
// asynchronously (S3, a schedule) its invocation settings (bounded retries and event age, failures
// to the dead-letter queue), and its alarms (errors, throttles, async event age; each optional).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { bundleHandler, LAMBDA_HANDLER, LAMBDA_RUNTIME } from "./bundle.js";
import { assumeRolePolicy, policyJson, type AwsContext, type PolicyStatement } from "./iam.js";
import { metricAlarm } from "./metric-alarm.js";
import type { LogLevel } from "./config.js";

export interface PipelineFunctionArgs {
  /** Physical function name; the log group is `/aws/lambda/<functionName>`. */
  functionName: string;
  description: string;
  /** Handler module, relative to the repository root; it exports `handler`. */
  entry: string;
  context: AwsContext;
  /** Environment beyond LOG_LEVEL / POWERTOOLS_SERVICE_NAME, which every function gets. */
  environment: Record<string, pulumi.Input<string>>;
  /** What the handler itself may do (least privilege: named resources, named actions). */
  statements: PolicyStatement[];
  memoryMb: number;
  timeoutSeconds: number;
  reservedConcurrency?: number;
  logRetentionDays: number;
  logLevel: LogLevel;
  /**
   * For a function invoked asynchronously: retries after the first failure (0-2), maximum event age
   * (60-21600 s) and the dead-letter queue. Undefined for a queue consumer (the queue retries and parks).
   */
  async?: { maxRetryAttempts: number; maxEventAgeSeconds: number; deadLetterQueue: { arn: pulumi.Input<string> } };
  alarms?: FunctionAlarmSettings;
  /** Tags of the execution role only (e.g. RedshiftDbRoles, the database roles its IAMR user holds). */
  roleTags?: Record<string, string>;
  tags?: Record<string, string>;
}

export interface FunctionAlarmSettings {
  topicArn?: pulumi.Input<string>;
  /** Alarm when more than this many errors / throttles happen in 5 minutes; undefined: none. */
  errors?: number;
  throttles?: number;
  /** Alarm when an async event has waited longer than this (async functions only); undefined: none. */
  asyncEventAgeSeconds?: number;
}

export class PipelineFunction extends pulumi.ComponentResource {
  readonly function: aws.lambda.Function;
  readonly role: aws.iam.Role;
  readonly logGroup: aws.cloudwatch.LogGroup;
  readonly rolePolicy: aws.iam.RolePolicy;
  readonly name: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;
  /** SHA-256 of the bundled handler. */
  readonly codeSha256: string;

  constructor(name: string, args: PipelineFunctionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:pipeline:Function", name, {}, opts);
    const parent = { parent: this };
    const bundle = bundleHandler(args.entry);
    this.codeSha256 = bundle.sha256;

    this.logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      { name: `/aws/lambda/${args.functionName}`, retentionInDays: args.logRetentionDays, tags: args.tags },
      parent,
    );

    this.role = new aws.iam.Role(
      `${name}-role`,
      {
        description: `CoffeETL ${args.functionName} execution role`,
        assumeRolePolicy: assumeRolePolicy("lambda.amazonaws.com"),
        tags: { ...args.tags, ...args.roleTags },
      },
      parent,
    );
    const rolePolicy = new aws.iam.RolePolicy(
      `${name}-policy`,
      {
        role: this.role.id,
        policy: policyJson([
          {
            Sid: "WriteOwnLogs",
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
            Resource: pulumi.interpolate`${this.logGroup.arn}:log-stream:*`,
          },
          ...(args.async
            ? [{ Sid: "SendFailedEventsToDeadLetterQueue", Effect: "Allow" as const, Action: "sqs:SendMessage", Resource: args.async.deadLetterQueue.arn }]
            : []),
          ...args.statements,
        ]),
      },
      parent,
    );

    this.function = new aws.lambda.Function(
      name,
      {
        name: args.functionName,
        description: args.description,
        runtime: LAMBDA_RUNTIME,
        architectures: ["arm64"],
        handler: LAMBDA_HANDLER,
        code: bundle.archive,
        role: this.role.arn,
        memorySize: args.memoryMb,
        timeout: args.timeoutSeconds,
        reservedConcurrentExecutions: args.reservedConcurrency ?? -1,
        environment: {
          variables: {
            ...args.environment,
            LOG_LEVEL: args.logLevel,
            POWERTOOLS_SERVICE_NAME: args.functionName,
            NODE_OPTIONS: "--enable-source-maps",
          },
        },
        loggingConfig: { logFormat: "Text", logGroup: this.logGroup.name },
        tags: { ...args.tags, "coffeetl:code-sha256": bundle.sha256.slice(0, 16) },
      },
      // The name is fixed (dashboards and runbooks use it), so a replacement must delete first.
      { parent: this, dependsOn: [rolePolicy, this.logGroup], deleteBeforeReplace: true },
    );
    this.name = this.function.name;
    this.arn = this.function.arn;
    this.rolePolicy = rolePolicy;

    if (args.async) {
      new aws.lambda.FunctionEventInvokeConfig(
        `${name}-async`,
        {
          functionName: this.function.name,
          maximumRetryAttempts: args.async.maxRetryAttempts,
          maximumEventAgeInSeconds: args.async.maxEventAgeSeconds,
          destinationConfig: { onFailure: { destination: args.async.deadLetterQueue.arn } },
        },
        // Lambda checks that the role may send to the destination.
        { parent: this, dependsOn: [rolePolicy] },
      );
    }

    const alarms = args.alarms ?? {};
    const alarm = (suffix: string, metricName: string, statistic: string, threshold: number | undefined, what: string) => {
      if (threshold === undefined) return;
      metricAlarm(
        `${name}-${suffix}-alarm`,
        {
          description: `CoffeETL: ${args.functionName} ${what} (its logs: /aws/lambda/${args.functionName}).`,
          namespace: "AWS/Lambda",
          metricName,
          dimensions: { FunctionName: args.functionName },
          statistic,
          threshold,
        },
        { topicArn: alarms.topicArn, tags: args.tags },
        { parent: this, dependsOn: [this.function] },
      );
    };
    alarm("errors", "Errors", "Sum", alarms.errors, `failed more than ${alarms.errors} time(s) in 5 minutes`);
    alarm("throttles", "Throttles", "Sum", alarms.throttles, `was throttled more than ${alarms.throttles} time(s) in 5 minutes (account concurrency used up?)`);
    if (args.async) {
      alarm(
        "event-age",
        "AsyncEventAge",
        "Maximum",
        alarms.asyncEventAgeSeconds,
        `has events waiting over ${alarms.asyncEventAgeSeconds} s to run (retries or throttling; they go to the DLQ at the maximum age)`,
      );
    }

    this.registerOutputs({ name: this.name, arn: this.arn, logGroupName: this.logGroup.name });
  }
}
