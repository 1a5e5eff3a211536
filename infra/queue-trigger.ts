// SQS → Lambda: an event source mapping that hands the function batches of messages. Partial batch
// responses (ReportBatchItemFailures) return only the failed messages to the queue; the mapping's
// maximum concurrency caps parallel invocations without reserving any (reservations fail on accounts
// with the default limit of 10 concurrent executions).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface QueueTriggerArgs {
  queueArn: pulumi.Input<string>;
  function: aws.lambda.Function;
  batchSize: number;
  batchingWindowSeconds: number;
  maxConcurrency: number;
  /** Resources the mapping must wait for (the role's SQS permissions: AWS checks them). */
  dependsOn?: pulumi.Resource[];
}

export class QueueTrigger extends pulumi.ComponentResource {
  readonly mapping: aws.lambda.EventSourceMapping;

  constructor(name: string, args: QueueTriggerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:pipeline:QueueTrigger", name, {}, opts);
    this.mapping = new aws.lambda.EventSourceMapping(
      `${name}-mapping`,
      {
        eventSourceArn: args.queueArn,
        functionName: args.function.arn,
        batchSize: args.batchSize,
        maximumBatchingWindowInSeconds: args.batchingWindowSeconds,
        functionResponseTypes: ["ReportBatchItemFailures"],
        scalingConfig: { maximumConcurrency: args.maxConcurrency },
        enabled: true,
      },
      { parent: this, dependsOn: args.dependsOn ?? [] },
    );
    this.registerOutputs({ uuid: this.mapping.uuid });
  }
}
