// The queue between the transformed bucket and the load (docs/design.md §2, §7): S3 sends each manifest.json
// event here (and each failed.json, a transform failure the load records in file_outcomes); the load function takes them in batches (infra/queue-trigger.ts) so one warehouse
// transaction loads many manifests. A message whose manifest fails `maxReceives` times is moved, as
// it is, to the load dead-letter queue, from which StartMessageMoveTask moves it back.
//
// Encrypted (SQS-managed keys), TLS-only, S3 may send only from the one bucket of this account;
// alarms on the age of the oldest message (loads falling behind) and on the dead-letter depth.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DeadLetterQueue } from "./dead-letter-queue.js";
import { denyInsecureTransport, policyJson } from "./iam.js";
import { LOAD_QUEUE_RETENTION_SECONDS, loadQueueVisibilitySeconds } from "./layout.js";
import { metricAlarm } from "./metric-alarm.js";

export interface LoadQueueArgs {
  /** Physical names (infra/layout.ts). */
  queueName: string;
  deadLetterQueueName: string;
  /** The bucket whose events S3 sends here. */
  sourceBucketArn: pulumi.Input<string>;
  accountId: pulumi.Input<string>;
  /** The consuming function's timeout: the visibility timeout is six times it (AWS's advice). */
  consumerTimeoutSeconds: number;
  /** Receives before a message moves to the dead-letter queue. */
  maxReceives: number;
  alarmTopicArn?: pulumi.Input<string>;
  /** Alarm thresholds; undefined: no such alarm. */
  oldestMessageAlarmSeconds?: number;
  /** The consumer's Powertools service name: it emits CoffeETL/ManifestsFailed per batch. */
  consumerServiceName?: string;
  failedManifestsAlarmThreshold?: number;
  deadLetterAlarmThreshold?: number;
  tags?: Record<string, string>;
}

export class LoadQueue extends pulumi.ComponentResource {
  readonly queue: aws.sqs.Queue;
  readonly deadLetters: DeadLetterQueue;
  readonly policy: aws.sqs.QueuePolicy;
  readonly arn: pulumi.Output<string>;
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: LoadQueueArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:pipeline:LoadQueue", name, {}, opts);
    const parent = { parent: this };

    this.deadLetters = new DeadLetterQueue(
      `${name}-dlq`,
      {
        queueName: args.deadLetterQueueName,
        meaning: `manifests failed to load ${args.maxReceives} times and are parked; their reasons are in file_outcomes and the load logs; redrive them after a fix`,
        alarmTopicArn: args.alarmTopicArn,
        alarmThreshold: args.deadLetterAlarmThreshold,
        tags: args.tags,
      },
      parent,
    );

    this.queue = new aws.sqs.Queue(
      name,
      {
        name: args.queueName,
        sqsManagedSseEnabled: true,
        // A message is invisible while a batch holding it loads; six timeouts cover Lambda's retries of
        // a throttled invocation without a second consumer seeing it.
        visibilityTimeoutSeconds: loadQueueVisibilitySeconds(args.consumerTimeoutSeconds),
        // Shorter than the dead-letter queue's 14 days: a message keeps its first enqueue time when it
        // is parked, so the DLQ must hold it longer than the queue could have.
        messageRetentionSeconds: LOAD_QUEUE_RETENTION_SECONDS,
        redrivePolicy: pulumi.jsonStringify({ deadLetterTargetArn: this.deadLetters.arn, maxReceiveCount: args.maxReceives }),
        tags: args.tags,
      },
      parent,
    );
    this.arn = this.queue.arn;
    this.url = this.queue.url;

    // Only this queue may park messages in the dead-letter queue.
    new aws.sqs.RedriveAllowPolicy(
      `${name}-redrive-allow`,
      { queueUrl: this.deadLetters.url, redriveAllowPolicy: pulumi.jsonStringify({ redrivePermission: "byQueue", sourceQueueArns: [this.queue.arn] }) },
      parent,
    );

    this.policy = new aws.sqs.QueuePolicy(
      `${name}-policy`,
      {
        queueUrl: this.queue.url,
        policy: policyJson([
          denyInsecureTransport("sqs", this.queue.arn),
          {
            // Bucket names are global: the account condition stops another account's bucket of that name.
            Sid: "ManifestEventsFromTheTransformedBucket",
            Effect: "Allow",
            Principal: { Service: "s3.amazonaws.com" },
            Action: "sqs:SendMessage",
            Resource: this.queue.arn,
            Condition: { ArnEquals: { "aws:SourceArn": args.sourceBucketArn }, StringEquals: { "aws:SourceAccount": args.accountId } },
          },
        ]),
      },
      parent,
    );

    const target = { topicArn: args.alarmTopicArn, tags: args.tags };
    if (args.oldestMessageAlarmSeconds !== undefined) {
      metricAlarm(
        `${name}-age-alarm`,
        {
          description: pulumi.interpolate`CoffeETL: a manifest has waited over ${args.oldestMessageAlarmSeconds} s in ${this.queue.name}: loads are falling behind or failing (check the load function's errors and the warehouse).`,
          namespace: "AWS/SQS",
          metricName: "ApproximateAgeOfOldestMessage",
          dimensions: { QueueName: this.queue.name },
          statistic: "Maximum",
          threshold: args.oldestMessageAlarmSeconds,
        },
        target,
        parent,
      );
    }
    if (args.consumerServiceName && args.failedManifestsAlarmThreshold !== undefined) {
      // A partial batch failure is a successful invocation: Lambda's Errors metric never sees it.
      metricAlarm(
        `${name}-failures-alarm`,
        {
          description: `CoffeETL: ${args.consumerServiceName} reported manifests it could not load (reasons in file_outcomes and its "load failed" log lines); they are retried, then parked.`,
          namespace: "CoffeETL",
          metricName: "ManifestsFailed",
          dimensions: { service: args.consumerServiceName },
          statistic: "Sum",
          threshold: args.failedManifestsAlarmThreshold,
        },
        target,
        parent,
      );
    }
    this.registerOutputs({ arn: this.arn, url: this.url, deadLetterQueueUrl: this.deadLetters.url });
  }
}
