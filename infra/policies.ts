// Policy rules over the resources a program declares, as plain functions: the relevant AWSGuard and
// AWS Security Hub (Foundational Security Best Practices) checks, ported to @pulumi/aws v7 (where a
// bucket's settings are separate resources, so several rules look across resources).
//
// They run in the unit tests over every resource recorded under mocks. They can also back a
// `@pulumi/policy` PolicyPack (wrap each rule's `validate` in a stack validation policy); that pack is
// not built here because constructing one starts a gRPC server.

/**
 * A declared resource as the tests record it: type token, logical name, id, and its properties (the
 * resolved inputs plus the outputs known so far, as `@pulumi/policy` stack validation sees them).
 * Properties are arbitrary JSON-shaped values, inspected defensively.
 */
export interface DeclaredResource {
  type: string;
  name: string;
  id: string;
  props: Record<string, any>;
}

export interface Violation {
  rule: string;
  resource: string;
  message: string;
}

export interface PolicyRule {
  id: string;
  /** The check it ports. */
  source: string;
  description: string;
  /** Messages for `resource` (empty: compliant); `all` is every resource of the stack. */
  validate(resource: DeclaredResource, all: DeclaredResource[]): string[];
}

type Json = any;

const T = {
  bucket: "aws:s3/bucket:Bucket",
  publicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  ownership: "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
  encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
  versioning: "aws:s3/bucketVersioning:BucketVersioning",
  lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  policy: "aws:iam/policy:Policy",
  role: "aws:iam/role:Role",
  rolePolicyAttachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
  permission: "aws:lambda/permission:Permission",
  lambda: "aws:lambda/function:Function",
  invokeConfig: "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
  logGroup: "aws:cloudwatch/logGroup:LogGroup",
  alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
  instance: "aws:ec2/instance:Instance",
  launchTemplate: "aws:ec2/launchTemplate:LaunchTemplate",
  securityGroup: "aws:ec2/securityGroup:SecurityGroup",
  securityGroupRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
  ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  queue: "aws:sqs/queue:Queue",
  eventSourceMapping: "aws:lambda/eventSourceMapping:EventSourceMapping",
  parameter: "aws:ssm/parameter:Parameter",
  queuePolicy: "aws:sqs/queuePolicy:QueuePolicy",
  randomPassword: "random:index/randomPassword:RandomPassword",
  workgroup: "aws:redshiftserverless/workgroup:Workgroup",
} as const;
export const RESOURCE_TYPES = T;

const of = (all: DeclaredResource[], type: string) => all.filter((r) => r.type === type);
const list = <X>(v: X | X[] | undefined | null): X[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);
const forBucket = (all: DeclaredResource[], type: string, bucket: DeclaredResource) => of(all, type).filter((r) => r.props.bucket === bucket.id);

function parsePolicy(text: unknown): { Statement?: Json } | undefined {
  if (typeof text === "string") {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }
  return typeof text === "object" && text !== null ? (text as { Statement?: Json }) : undefined;
}
function statements(text: unknown): Json[] {
  return list(parsePolicy(text)?.Statement);
}

/** Actions that take no resource-level permission, so `Resource: "*"` is their only form. */
export const ACTIONS_WITHOUT_RESOURCES = new Set([
  "cloudwatch:GetMetricData",
  "cloudwatch:GetMetricStatistics",
  "cloudwatch:ListMetrics",
  "cloudwatch:DescribeAlarms",
  "cloudwatch:DescribeAlarmsForMetric",
  "cloudwatch:DescribeAlarmHistory",
  "cloudwatch:PutMetricData",
  "ec2:DescribeRegions",
  "tag:GetResources",
  "redshift-data:DescribeStatement",
  "redshift-data:GetStatementResult",
  "redshift-data:CancelStatement",
  // Session Manager's channels (no resource-level permissions).
  "ssmmessages:CreateControlChannel",
  "ssmmessages:CreateDataChannel",
  "ssmmessages:OpenControlChannel",
  "ssmmessages:OpenDataChannel",
]);

/** Lambda runtimes not deprecated (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html). */
export const SUPPORTED_LAMBDA_RUNTIMES = new Set(["nodejs22.x", "nodejs24.x", "python3.12", "python3.13", "python3.14", "java21", "java25", "dotnet8", "ruby3.3", "ruby3.4", "provided.al2023"]);

function portsCover(from: unknown, to: unknown, protocol: unknown, port: number): boolean {
  if (protocol === "-1" || protocol === "all") return true;
  const f = Number(from);
  const t = Number(to);
  return Number.isFinite(f) && Number.isFinite(t) && f <= port && port <= t;
}

/** Every ingress rule a stack declares, whatever the resource shape. */
function ingressRules(all: DeclaredResource[]): { resource: DeclaredResource; cidrs: string[]; from: unknown; to: unknown; protocol: unknown }[] {
  const out: { resource: DeclaredResource; cidrs: string[]; from: unknown; to: unknown; protocol: unknown }[] = [];
  for (const r of of(all, T.ingressRule)) {
    out.push({ resource: r, cidrs: [r.props.cidrIpv4, r.props.cidrIpv6].filter(Boolean), from: r.props.fromPort, to: r.props.toPort, protocol: r.props.ipProtocol });
  }
  for (const r of of(all, T.securityGroupRule).filter((x) => x.props.type === "ingress")) {
    out.push({ resource: r, cidrs: [...list(r.props.cidrBlocks), ...list(r.props.ipv6CidrBlocks)], from: r.props.fromPort, to: r.props.toPort, protocol: r.props.protocol });
  }
  for (const r of of(all, T.securityGroup)) {
    for (const i of list<Json>(r.props.ingress)) {
      out.push({ resource: r, cidrs: [...list(i.cidrBlocks), ...list(i.ipv6CidrBlocks)], from: i.fromPort, to: i.toPort, protocol: i.protocol });
    }
  }
  return out;
}

/** The launch template an instance is launched from, when it is one of the stack's. */
function templateOf(instance: DeclaredResource, all: DeclaredResource[]): DeclaredResource | undefined {
  const ref = instance.props.launchTemplate;
  if (!ref) return undefined;
  return of(all, T.launchTemplate).find((t) => t.id === ref.id || (ref.name !== undefined && t.props.name === ref.name));
}

export interface PolicyOptions {
  /** Logical names of buckets that must keep every object version. */
  versionedBuckets?: string[];
  /** CIDRs accepted as ingress sources even if open to the world (coffeetl:allowPublicGrafana). */
  allowWorldIngress?: boolean;
}

export function policyRules(options: PolicyOptions = {}): PolicyRule[] {
  const versioned = new Set(options.versionedBuckets ?? ["raw"]);
  return [
    {
      id: "s3-public-access-blocked",
      source: "Security Hub S3.8 / AWSGuard s3-bucket-public-access-block",
      description: "Every bucket blocks public ACLs and policies",
      validate: (r, all) => {
        if (r.type !== T.bucket) return [];
        const block = forBucket(all, T.publicAccessBlock, r)[0];
        if (!block) return ["no BucketPublicAccessBlock"];
        const flags = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"];
        return flags.filter((f) => block.props[f] !== true).map((f) => `public access block does not set ${f}`);
      },
    },
    {
      id: "s3-acls-disabled",
      source: "Security Hub S3.12",
      description: "Buckets use bucket-owner-enforced ownership (no ACLs)",
      validate: (r, all) =>
        r.type === T.bucket && !forBucket(all, T.ownership, r).some((o) => o.props.rule?.objectOwnership === "BucketOwnerEnforced")
          ? ["object ownership is not BucketOwnerEnforced"]
          : [],
    },
    {
      id: "s3-encrypted-at-rest",
      source: "Security Hub S3.4 / AWSGuard s3-bucket-server-side-encryption-enabled",
      description: "Every bucket has default server-side encryption",
      validate: (r, all) => {
        if (r.type !== T.bucket) return [];
        const ok = forBucket(all, T.encryption, r).some((e) =>
          list<Json>(e.props.rules).some((rule) => ["AES256", "aws:kms", "aws:kms:dsse"].includes(rule.applyServerSideEncryptionByDefault?.sseAlgorithm)),
        );
        return ok ? [] : ["no default server-side encryption"];
      },
    },
    {
      id: "s3-tls-only",
      source: "Security Hub S3.5",
      description: "Bucket policies deny requests not made over TLS",
      validate: (r, all) => {
        if (r.type !== T.bucket) return [];
        const denies = forBucket(all, T.bucketPolicy, r).some((p) =>
          statements(p.props.policy).some((s) => s.Effect === "Deny" && String(s.Condition?.Bool?.["aws:SecureTransport"]) === "false"),
        );
        return denies ? [] : ["bucket policy does not deny aws:SecureTransport false"];
      },
    },
    {
      id: "s3-no-public-grants",
      source: "Security Hub S3.2 / S3.3",
      description: "No bucket policy allows anonymous principals",
      validate: (r) =>
        r.type === T.bucketPolicy &&
        statements(r.props.policy).some((s) => s.Effect === "Allow" && (s.Principal === "*" || list(s.Principal?.AWS).includes("*")))
          ? ["bucket policy allows Principal *"]
          : [],
    },
    {
      id: "s3-lifecycle-configured",
      source: "Security Hub S3.13",
      description: "Every bucket has a lifecycle configuration",
      validate: (r, all) =>
        r.type === T.bucket && !forBucket(all, T.lifecycle, r).some((l) => list<Json>(l.props.rules).some((x) => x.status === "Enabled"))
          ? ["no enabled lifecycle rule"]
          : [],
    },
    {
      id: "s3-versioning-on-upload-buckets",
      source: "Security Hub S3.14 / AWSGuard s3-bucket-versioning-enabled",
      description: `Buckets ${[...versioned].join(", ")} keep every object version`,
      validate: (r, all) =>
        r.type === T.bucket && versioned.has(r.name) && !forBucket(all, T.versioning, r).some((v) => v.props.versioningConfiguration?.status === "Enabled")
          ? ["versioning is not enabled"]
          : [],
    },
    {
      id: "iam-no-wildcard-actions",
      source: "Security Hub IAM.1 / IAM.21 / AWSGuard iam-no-policies-with-admin-access",
      description: "No Allow statement grants `*` or `service:*`",
      validate: (r) => {
        if (![T.rolePolicy, T.policy].includes(r.type as never)) return [];
        return statements(r.props.policy)
          .filter((s) => s.Effect === "Allow")
          .flatMap((s) => list<string>(s.Action).filter((a) => a === "*" || /^[a-z0-9-]+:\*$/i.test(a)).map((a) => `statement ${s.Sid ?? "?"} allows ${a}`));
      },
    },
    {
      id: "iam-no-unscoped-resources",
      source: "Security Hub IAM.21 (least privilege)",
      description: "`Resource: *` only for actions that support no resource, never with NotAction/NotResource",
      validate: (r) => {
        if (![T.rolePolicy, T.policy].includes(r.type as never)) return [];
        const out: string[] = [];
        for (const s of statements(r.props.policy).filter((x) => x.Effect === "Allow")) {
          if (s.NotAction || s.NotResource) out.push(`statement ${s.Sid ?? "?"} uses NotAction/NotResource`);
          if (!list(s.Resource).includes("*")) continue;
          for (const a of list<string>(s.Action)) if (!ACTIONS_WITHOUT_RESOURCES.has(a)) out.push(`statement ${s.Sid ?? "?"} allows ${a} on *`);
        }
        return out;
      },
    },
    {
      id: "iam-no-full-access-managed-policies",
      source: "AWSGuard iam-managed-policies / Security Hub IAM.1",
      description: "No *FullAccess, AdministratorAccess or PowerUserAccess managed policy is attached",
      validate: (r) =>
        [T.rolePolicyAttachment, "aws:iam/policyAttachment:PolicyAttachment"].includes(r.type as never) &&
        /(FullAccess|AdministratorAccess|PowerUserAccess)/.test(String(r.props.policyArn))
          ? [`attaches ${r.props.policyArn}`]
          : r.type === T.role
            ? list<string>(r.props.managedPolicyArns).filter((a) => /(FullAccess|AdministratorAccess|PowerUserAccess)/.test(a)).map((a) => `attaches ${a}`)
            : [],
    },
    {
      id: "lambda-permission-scoped",
      source: "Security Hub Lambda.1",
      description: "Service invoke permissions carry sourceArn and sourceAccount",
      validate: (r) => {
        if (r.type !== T.permission) return [];
        const out: string[] = [];
        if (!r.props.sourceArn) out.push("no sourceArn");
        if (String(r.props.principal).endsWith(".amazonaws.com") && !r.props.sourceAccount) out.push("no sourceAccount");
        if (r.props.principal === "*") out.push("principal is *");
        return out;
      },
    },
    {
      id: "lambda-supported-runtime",
      source: "Security Hub Lambda.2",
      description: "Functions use a runtime that is not deprecated",
      validate: (r) => (r.type === T.lambda && !SUPPORTED_LAMBDA_RUNTIMES.has(r.props.runtime) ? [`runtime ${r.props.runtime} is deprecated or unknown`] : []),
    },
    {
      id: "lambda-async-failures-kept",
      source: "AWS Well-Architected REL (no silently dropped events)",
      description: "Every function has bounded async retries and an on-failure destination, or consumes a queue with a redrive policy",
      validate: (r, all) => {
        if (r.type !== T.lambda) return [];
        const consumed = of(all, T.eventSourceMapping)
          .filter((m) => m.props.functionName === r.props.arn || m.props.functionName === r.props.name)
          .map((m) => of(all, T.queue).find((q) => q.props.arn === m.props.eventSourceArn));
        if (consumed.length > 0) {
          return consumed.every((q) => q && parsePolicy(q.props.redrivePolicy) && (parsePolicy(q.props.redrivePolicy) as Json).deadLetterTargetArn)
            ? []
            : ["consumes a queue without a redrive policy (failed messages would retry until they expire)"];
        }
        const cfg = of(all, T.invokeConfig).find((c) => c.props.functionName === r.props.name);
        if (!cfg) return r.props.deadLetterConfig?.targetArn ? [] : ["no async invoke config or dead-letter queue"];
        const out: string[] = [];
        if (!cfg.props.destinationConfig?.onFailure?.destination) out.push("no on-failure destination");
        if (cfg.props.maximumRetryAttempts === undefined || cfg.props.maximumEventAgeInSeconds === undefined) out.push("retries or event age not bounded");
        return out;
      },
    },
    {
      id: "lambda-logs-retained",
      source: "Security Hub CloudWatch.16",
      description: "Log groups set a retention period; functions log to a declared group",
      validate: (r, all) => {
        if (r.type === T.logGroup) return Number(r.props.retentionInDays) > 0 ? [] : ["no retention period"];
        if (r.type === T.lambda) {
          const group = r.props.loggingConfig?.logGroup ?? `/aws/lambda/${r.props.name}`;
          return of(all, T.logGroup).some((g) => g.props.name === group) ? [] : [`log group ${group} is not declared (no retention)`];
        }
        return [];
      },
    },
    {
      id: "sqs-encrypted",
      source: "Security Hub SQS.1",
      description: "Queues are encrypted at rest",
      validate: (r) => (r.type === T.queue && r.props.sqsManagedSseEnabled !== true && !r.props.kmsMasterKeyId ? ["queue is not encrypted"] : []),
    },
    {
      id: "sqs-tls-only",
      source: "AWS SQS best practice / Security Hub SQS (aws:SecureTransport)",
      description: "Queue policies deny requests not made over TLS",
      validate: (r, all) => {
        if (r.type !== T.queue) return [];
        const denies = of(all, T.queuePolicy).some(
          (p) => (p.props.queueUrl === r.props.url || p.props.queueUrl === r.id) && statements(p.props.policy).some((s) => s.Effect === "Deny" && String(s.Condition?.Bool?.["aws:SecureTransport"]) === "false"),
        );
        return denies ? [] : ["no queue policy denying aws:SecureTransport false"];
      },
    },
    {
      id: "iam-users-without-policies",
      source: "Security Hub IAM.2",
      description: "IAM users get permissions only through groups",
      validate: (r) =>
        ["aws:iam/userPolicy:UserPolicy", "aws:iam/userPolicyAttachment:UserPolicyAttachment", "aws:iam/policyAttachment:PolicyAttachment"].includes(r.type) &&
        (r.props.user || (Array.isArray(r.props.users) && r.props.users.length > 0))
          ? ["a policy is attached to a user"]
          : [],
    },
    {
      id: "dead-letter-queue-alarmed",
      source: "CoffeETL: failures are never silent",
      description: "Every on-failure destination and redrive target queue has an alarm on its depth",
      validate: (r, all) => {
        if (r.type !== T.queue) return [];
        const isDestination =
          of(all, T.invokeConfig).some((c) => c.props.destinationConfig?.onFailure?.destination === r.props.arn || c.props.destinationConfig?.onFailure?.destination?.endsWith?.(`:${r.props.name}`)) ||
          of(all, T.queue).some((q) => (parsePolicy(q.props.redrivePolicy) as Json)?.deadLetterTargetArn === r.props.arn);
        if (!isDestination) return [];
        const alarmed = of(all, T.alarm).some((a) => a.props.namespace === "AWS/SQS" && a.props.metricName === "ApproximateNumberOfMessagesVisible" && a.props.dimensions?.QueueName === r.props.name);
        return alarmed ? [] : ["no alarm on ApproximateNumberOfMessagesVisible"];
      },
    },
    {
      id: "ec2-imdsv2-required",
      source: "Security Hub EC2.8 / AWSGuard ec2-instance-metadata-service-v2",
      description: "Instances require IMDSv2 tokens",
      validate: (r, all) => {
        if (r.type === T.launchTemplate) return r.props.metadataOptions?.httpTokens === "required" ? [] : ["launch template does not require IMDSv2"];
        if (r.type !== T.instance) return [];
        const tokens = r.props.metadataOptions?.httpTokens ?? templateOf(r, all)?.props.metadataOptions?.httpTokens;
        return tokens === "required" ? [] : ["instance does not require IMDSv2"];
      },
    },
    {
      id: "ec2-ebs-encrypted",
      source: "Security Hub EC2.3 / AWSGuard ec2-volume-inuse-check / encrypted-volumes",
      description: "Root and data volumes are encrypted",
      validate: (r, all) => {
        const templateOk = (t: DeclaredResource | undefined) =>
          t !== undefined && list<Json>(t.props.blockDeviceMappings).length > 0 && list<Json>(t.props.blockDeviceMappings).every((m) => String(m.ebs?.encrypted) === "true");
        if (r.type === T.launchTemplate) return templateOk(r) ? [] : ["launch template volumes are not all encrypted"];
        if (r.type !== T.instance) return [];
        if (r.props.rootBlockDevice?.encrypted === true) return [];
        return templateOk(templateOf(r, all)) ? [] : ["root volume is not encrypted"];
      },
    },
    {
      id: "ec2-no-key-pair",
      source: "CoffeETL: Session Manager instead of SSH keys",
      description: "Instances have no SSH key pair",
      validate: (r) => ([T.instance, T.launchTemplate].includes(r.type as never) && r.props.keyName ? [`key pair ${r.props.keyName}`] : []),
    },
    {
      id: "ec2-no-world-ingress",
      source: "Security Hub EC2.18 / EC2.19 / AWSGuard ec2-security-group-no-public-ingress",
      description: "No ingress from 0.0.0.0/0 or ::/0",
      validate: (r, all) =>
        options.allowWorldIngress
          ? []
          : ingressRules(all)
              .filter((i) => i.resource === r)
              .flatMap((i) => i.cidrs.filter((c) => c === "0.0.0.0/0" || c === "::/0").map((c) => `ingress from ${c}`)),
    },
    {
      id: "ec2-no-ssh-rdp",
      source: "Security Hub EC2.13 / EC2.14",
      description: "No ingress on SSH (22) or RDP (3389) from anywhere",
      validate: (r, all) =>
        ingressRules(all)
          .filter((i) => i.resource === r)
          .flatMap((i) => [22, 3389].filter((p) => portsCover(i.from, i.to, i.protocol, p)).map((p) => `ingress admits port ${p}`)),
    },
    {
      id: "secrets-in-secure-strings",
      source: "AWSGuard / Security Hub SSM (secrets encrypted)",
      description: "Parameters named like secrets are SecureStrings",
      validate: (r) => (r.type === T.parameter && /(password|secret|token|credential)/i.test(String(r.props.name)) && r.props.type !== "SecureString" ? ["secret stored as plain String"] : []),
    },
    {
      id: "no-secrets-in-user-data",
      source: "Security Hub EC2 (no secrets in user data)",
      description: "User data holds no generated secret and no inline password",
      validate: (r, all) => {
        if (![T.instance, T.launchTemplate].includes(r.type as never)) return [];
        const text = String(r.props.userData ?? "") + (r.props.userDataBase64 ? Buffer.from(String(r.props.userDataBase64), "base64").toString("utf8") : "");
        if (!text) return [];
        const out: string[] = [];
        for (const p of of(all, T.randomPassword)) {
          const value = p.props.result ?? p.props.__result;
          if (typeof value === "string" && value.length > 0 && text.includes(value)) out.push(`user data contains the value of ${p.name}`);
        }
        if (/PASSWORD=(?!\$)\S/.test(text)) out.push("user data assigns a password inline");
        return out;
      },
    },
    {
      id: "redshift-not-public",
      source: "Security Hub Redshift.1",
      description: "Warehouses are not publicly accessible",
      validate: (r) => (r.type === T.workgroup && r.props.publiclyAccessible !== false ? ["workgroup may be publicly accessible"] : []),
    },
  ];
}

/** Runs every rule over every resource. */
export function evaluatePolicies(resources: DeclaredResource[], options?: PolicyOptions): Violation[] {
  const out: Violation[] = [];
  for (const rule of policyRules(options)) {
    for (const r of resources) for (const message of rule.validate(r, resources)) out.push({ rule: rule.id, resource: `${r.type}::${r.name}`, message });
  }
  return out;
}
