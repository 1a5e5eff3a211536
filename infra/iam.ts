// IAM building blocks: the account context ARNs are built from, typed policy statements serialised
// to JSON (so tests read exactly what AWS will receive), and service trust policies.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** Where the stack runs: every ARN this program writes is built from these, never from `*`. */
export interface AwsContext {
  partition: pulumi.Output<string>;
  region: pulumi.Output<string>;
  accountId: pulumi.Output<string>;
  /** `amazonaws.com` (or the partition's own suffix). */
  dnsSuffix: pulumi.Output<string>;
}

export function lookupAwsContext(opts?: pulumi.InvokeOutputOptions): AwsContext {
  const partition = aws.getPartitionOutput({}, opts);
  return {
    partition: partition.partition,
    dnsSuffix: partition.dnsSuffix,
    region: aws.getRegionOutput({}, opts).region,
    accountId: aws.getCallerIdentityOutput({}, opts).accountId,
  };
}

/** `arn:<partition>:<service>:<region>:<account>:<resource>`; `region: false` for global services. */
export function arn(ctx: AwsContext, service: string, resource: pulumi.Input<string>, options: { region?: boolean } = {}): pulumi.Output<string> {
  const region = options.region === false ? "" : ctx.region;
  return pulumi.interpolate`arn:${ctx.partition}:${service}:${region}:${ctx.accountId}:${resource}`;
}

/** ARN of an SSM parameter by name (names with a leading `/` keep it as the path). */
export function parameterArn(ctx: AwsContext, name: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.output(name).apply((n) => arn(ctx, "ssm", `parameter/${n.replace(/^\//, "")}`));
}

type Strings = pulumi.Input<string> | pulumi.Input<string>[];

export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string | string[];
  Resource: Strings;
  Condition?: Record<string, Record<string, Strings>>;
  Principal?: "*" | Record<string, Strings>;
}

/** A policy document as the JSON string IAM and S3 receive. */
export function policyJson(statements: PolicyStatement[]): pulumi.Output<string> {
  return pulumi.jsonStringify(pulumi.output({ Version: "2012-10-17", Statement: statements }));
}

/** The statement every bucket and queue carries: nothing over plain HTTP (Security Hub S3.5, SQS TLS). */
export function denyInsecureTransport(service: "s3" | "sqs", resource: Strings): PolicyStatement {
  return {
    Sid: "DenyInsecureTransport",
    Effect: "Deny",
    Principal: "*",
    Action: `${service}:*`,
    Resource: resource,
    Condition: { Bool: { "aws:SecureTransport": "false" } },
  };
}

/**
 * Trust policy for one or more service principals. With `sourceAccount`, only calls made on behalf of
 * this account may assume the role (confused-deputy protection, for services that send aws:SourceAccount).
 */
export function assumeRolePolicy(service: string | string[], sourceAccount?: pulumi.Input<string>): pulumi.Output<string> {
  const statement = { Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" };
  const condition = sourceAccount === undefined ? {} : { Condition: { StringEquals: { "aws:SourceAccount": sourceAccount } } };
  return pulumi.jsonStringify(pulumi.output({ Version: "2012-10-17", Statement: [{ ...statement, ...condition }] }));
}

/** `kms:Decrypt` on the account's keys, only when SSM calls it on our behalf (SecureString reads). */
export function ssmDecryptStatement(ctx: AwsContext): PolicyStatement {
  return {
    Sid: "DecryptSecureStringsViaSsm",
    Effect: "Allow",
    Action: "kms:Decrypt",
    Resource: arn(ctx, "kms", "key/*"),
    Condition: { StringEquals: { "kms:ViaService": pulumi.interpolate`ssm.${ctx.region}.${ctx.dnsSuffix}` } },
  };
}
