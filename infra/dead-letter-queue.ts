// A dead-letter queue: where work lands after every retry failed. Two kinds use it: Lambda async
// invocation records (the extract-transform function's on-failure destination: each message's
// `requestPayload` is the original S3 event) and SQS redrive (the load queue's messages, moved here
// unchanged after `maxReceiveCount` receives, and moved back with StartMessageMoveTask).
// SSE (SQS-managed keys), a TLS-only queue policy, 14 days' retention, and an alarm on its depth.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { denyInsecureTransport, policyJson } from "./iam.js";
import { DEAD_LETTER_RETENTION_SECONDS } from "./layout.js";
import { metricAlarm } from "./metric-alarm.js";

export interface DeadLetterQueueArgs {
  /** Physical queue name (dashboards read `coffeetl-<stack>-dlq` and `coffeetl-<stack>-load-dlq`). */
  queueName: string;
  /** What a message here means and how to redrive it, for the alarm's description. */
  meaning: pulumi.Input<string>;
  /** SNS topic notified when messages are waiting (and when the queue is empty again). */
  alarmTopicArn?: pulumi.Input<string>;
  /** Alarm when more messages than this are visible; undefined: no alarm. */
  alarmThreshold?: number;
  tags?: Record<string, string>;
}

export class DeadLetterQueue extends pulumi.ComponentResource {
  readonly queue: aws.sqs.Queue;
  readonly alarm?: aws.cloudwatch.MetricAlarm;
  readonly arn: pulumi.Output<string>;
  readonly url: pulumi.Output<string>;
  readonly name: pulumi.Output<string>;

  constructor(name: string, args: DeadLetterQueueArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:pipeline:DeadLetterQueue", name, {}, opts);
    this.queue = new aws.sqs.Queue(
      name,
      { name: args.queueName, sqsManagedSseEnabled: true, messageRetentionSeconds: DEAD_LETTER_RETENTION_SECONDS, tags: args.tags },
      { parent: this },
    );
    this.arn = this.queue.arn;
    this.url = this.queue.url;
    this.name = this.queue.name;

    new aws.sqs.QueuePolicy(
      `${name}-policy`,
      {
        queueUrl: this.queue.url,
        policy: policyJson([denyInsecureTransport("sqs", this.queue.arn)]),
      },
      { parent: this },
    );

    if (args.alarmThreshold !== undefined) {
      this.alarm = metricAlarm(
        `${name}-alarm`,
        {
          description: pulumi.interpolate`CoffeETL: ${args.meaning} (queue ${this.queue.name}; docs/deploy.md, "Redrive").`,
          namespace: "AWS/SQS",
          metricName: "ApproximateNumberOfMessagesVisible",
          dimensions: { QueueName: this.queue.name },
          statistic: "Maximum",
          threshold: args.alarmThreshold,
        },
        { topicArn: args.alarmTopicArn, tags: args.tags },
        { parent: this },
      );
    }
    this.registerOutputs({ arn: this.arn, url: this.url });
  }
}
