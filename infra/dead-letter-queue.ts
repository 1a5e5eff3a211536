// The pipeline's dead-letter queue: where an S3 event lands when a function has failed it through
// every retry (Lambda async invocation on-failure destination). One queue for both functions: each
// message is a Lambda invocation record whose `requestContext.functionArn` names the function and
// whose `requestPayload` is the original S3 event, so a redrive re-invokes that function with it.
// SSE (SQS-managed keys), a TLS-only queue policy, 14 days' retention, and an alarm on its depth.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { policyJson } from "./iam.js";

export interface DeadLetterQueueArgs {
  /** Physical queue name (dashboards read `coffeetl-<stack>-dlq`). */
  queueName: string;
  /** SNS topic notified when messages are waiting (and when the queue is empty again). */
  alarmTopicArn?: pulumi.Input<string>;
  tags?: Record<string, string>;
}

export class DeadLetterQueue extends pulumi.ComponentResource {
  readonly queue: aws.sqs.Queue;
  readonly alarm: aws.cloudwatch.MetricAlarm;
  readonly arn: pulumi.Output<string>;
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: DeadLetterQueueArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:pipeline:DeadLetterQueue", name, {}, opts);
    this.queue = new aws.sqs.Queue(
      name,
      { name: args.queueName, sqsManagedSseEnabled: true, messageRetentionSeconds: 14 * 24 * 3600, tags: args.tags },
      { parent: this },
    );
    this.arn = this.queue.arn;
    this.url = this.queue.url;

    new aws.sqs.QueuePolicy(
      `${name}-policy`,
      {
        queueUrl: this.queue.url,
        policy: policyJson([
          {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "sqs:*",
            Resource: this.queue.arn,
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
        ]),
      },
      { parent: this },
    );

    const actions = args.alarmTopicArn ? [args.alarmTopicArn] : [];
    this.alarm = new aws.cloudwatch.MetricAlarm(
      `${name}-alarm`,
      {
        alarmDescription: pulumi.interpolate`CoffeETL: S3 events failed every retry and wait in ${this.queue.name}; inspect and redrive them (docs/deploy.md).`,
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: { QueueName: this.queue.name },
        statistic: "Maximum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "notBreaching",
        alarmActions: actions,
        okActions: actions,
        tags: args.tags,
      },
      { parent: this },
    );
    this.registerOutputs({ arn: this.arn, url: this.url });
  }
}
