// S3 → Lambda or S3 → SQS wiring, one notification per bucket (S3 keeps one configuration per
// bucket; a second resource would overwrite the first). S3 validates the destination's permission
// when the notification is written, so the notification depends on it: for a function, the invoke
// permission created here (scoped to the bucket and this account: Security Hub Lambda.1); for a
// queue, the queue policy the caller passes in `dependsOn`.
//
// S3 suffix filters are case-sensitive: `caseInsensitiveSuffixes(".csv")` lists every spelling
// (`.csv`, `.CSV`, `.Csv`...), one rule each. No spelling is a suffix of another, so S3 accepts them
// (it refuses overlapping rules), and `LEEDS.CSV` triggers like `leeds.csv` while nothing else does.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export type TriggerTarget = { function: aws.lambda.Function } | { queueArn: pulumi.Input<string> };

export interface BucketTriggerArgs {
  bucket: { id: pulumi.Input<string>; arn: pulumi.Input<string> };
  target: TriggerTarget;
  /** Key suffixes that trigger (each is matched case-sensitively by S3). */
  filterSuffixes: string[];
  accountId: pulumi.Input<string>;
  /** Resources the notification must wait for (the bucket's policy; a queue's policy). */
  dependsOn?: pulumi.Resource[];
}

/** Every upper/lower-case spelling of a suffix: `.csv` → `.csv`, `.csV`, ..., `.CSV` (2^letters). */
export function caseInsensitiveSuffixes(suffix: string): string[] {
  let out = [""];
  for (const ch of suffix) {
    const variants = ch.toLowerCase() === ch.toUpperCase() ? [ch] : [ch.toLowerCase(), ch.toUpperCase()];
    out = out.flatMap((prefix) => variants.map((v) => prefix + v));
  }
  return out;
}

export class BucketTrigger extends pulumi.ComponentResource {
  readonly permission?: aws.lambda.Permission;
  readonly notification: aws.s3.BucketNotification;

  constructor(name: string, args: BucketTriggerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:pipeline:BucketTrigger", name, {}, opts);
    const events = ["s3:ObjectCreated:*"];
    const waitFor = [...(args.dependsOn ?? [])];
    let rules: Pick<aws.s3.BucketNotificationArgs, "lambdaFunctions" | "queues">;
    if ("function" in args.target) {
      const fn = args.target.function;
      this.permission = new aws.lambda.Permission(
        `${name}-permission`,
        { action: "lambda:InvokeFunction", function: fn.name, principal: "s3.amazonaws.com", sourceArn: args.bucket.arn, sourceAccount: args.accountId },
        { parent: this },
      );
      waitFor.unshift(this.permission);
      rules = { lambdaFunctions: args.filterSuffixes.map((filterSuffix) => ({ lambdaFunctionArn: fn.arn, events, filterSuffix })) };
    } else {
      const queueArn = args.target.queueArn;
      rules = { queues: args.filterSuffixes.map((filterSuffix) => ({ queueArn, events, filterSuffix })) };
    }
    this.notification = new aws.s3.BucketNotification(`${name}-notification`, { bucket: args.bucket.id, ...rules }, { parent: this, dependsOn: waitFor });
    this.registerOutputs({});
  }
}
