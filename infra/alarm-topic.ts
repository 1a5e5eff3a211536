// SNS topic every alarm notifies, with an optional e-mail subscription (confirmed by the recipient).
// Not KMS-encrypted: CloudWatch alarms cannot publish to a topic under the AWS-managed SNS key, and a
// customer key for alarm notifications that carry no data is not worth its cost here.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface AlarmTopicArgs {
  /** Subscribed when given. */
  email?: string;
  tags?: Record<string, string>;
}

export class AlarmTopic extends pulumi.ComponentResource {
  readonly topic: aws.sns.Topic;
  readonly arn: pulumi.Output<string>;

  constructor(name: string, args: AlarmTopicArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:pipeline:AlarmTopic", name, {}, opts);
    this.topic = new aws.sns.Topic(name, { tags: args.tags }, { parent: this });
    this.arn = this.topic.arn;
    if (args.email) new aws.sns.TopicSubscription(`${name}-email`, { topic: this.topic.arn, protocol: "email", endpoint: args.email }, { parent: this });
    this.registerOutputs({ arn: this.arn });
  }
}
