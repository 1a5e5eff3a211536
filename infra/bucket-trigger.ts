// S3 → Lambda wiring: the invoke permission, scoped to one bucket of this account (Security Hub
// Lambda.1 wants `sourceAccount`: bucket names are global), then the bucket notification, which S3
// validates against that permission, so it depends on it. One notification per bucket (S3 keeps one
// configuration per bucket; a second resource would overwrite the first).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface BucketTriggerArgs {
  bucket: { id: pulumi.Input<string>; arn: pulumi.Input<string> };
  function: aws.lambda.Function;
  /** Key suffix that triggers the function (case-sensitive). */
  filterSuffix: string;
  accountId: pulumi.Input<string>;
  /** Resources the notification must wait for (e.g. the bucket's policy). */
  dependsOn?: pulumi.Resource[];
}

export class BucketTrigger extends pulumi.ComponentResource {
  readonly permission: aws.lambda.Permission;
  readonly notification: aws.s3.BucketNotification;

  constructor(name: string, args: BucketTriggerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:pipeline:BucketTrigger", name, {}, opts);
    this.permission = new aws.lambda.Permission(
      `${name}-permission`,
      {
        action: "lambda:InvokeFunction",
        function: args.function.name,
        principal: "s3.amazonaws.com",
        sourceArn: args.bucket.arn,
        sourceAccount: args.accountId,
      },
      { parent: this },
    );
    this.notification = new aws.s3.BucketNotification(
      `${name}-notification`,
      {
        bucket: args.bucket.id,
        lambdaFunctions: [{ lambdaFunctionArn: args.function.arn, events: ["s3:ObjectCreated:*"], filterSuffix: args.filterSuffix }],
      },
      { parent: this, dependsOn: [this.permission, ...(args.dependsOn ?? [])] },
    );
    this.registerOutputs({});
  }
}
