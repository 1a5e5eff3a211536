// Runs the Pulumi program under mocks (docs/design.md §12: mocks first, then config, then a dynamic import)
// and records every resource it declares, with its parent and dependsOn (seen through a stack
// transformation, which mocks do not report) and every invoke.
import * as pulumi from "@pulumi/pulumi";
import type { DeclaredResource } from "../fixtures/iam-policies.js";

export const REGION = "eu-west-2";
export const ACCOUNT = "123456789012";

export interface Recorded extends DeclaredResource {
  /** The inputs the program gave (`props` adds the outputs the mocks computed). */
  inputs: Record<string, any>;
  /** `type::name` of the parent (undefined: the stack). */
  parent?: string;
  /** Logical names of explicit dependsOn resources. */
  dependsOn: string[];
  /** The explicit provider's reference (`urn::id`), when one was given. */
  provider?: string;
  /** The `protect` resource option. */
  protect?: boolean;
}

export interface Harness {
  resources: Recorded[];
  invokes: { token: string; args: Record<string, unknown> }[];
  byType(type: string): Recorded[];
  one(type: string, name: string): Recorded;
}

type Named = { __name?: string; __pulumiType?: string };
const label = (r: unknown) => `${(r as Named).__pulumiType}::${(r as Named).__name}`;

/** Outputs AWS computes, made up the way AWS makes them. */
export function computed(type: string, name: string, inputs: Record<string, any>): { id: string; state: Record<string, unknown> } {
  const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
  switch (type) {
    case "aws:s3/bucket:Bucket": {
      const bucket = inputs.bucket ?? `${inputs.bucketPrefix ?? name + "-"}20250101000000000000000001`;
      return { id: bucket, state: { bucket, arn: `arn:aws:s3:::${bucket}` } };
    }
    case "aws:lambda/function:Function":
      return { id: inputs.name, state: { arn: arn("lambda", `function:${inputs.name}`), invokeArn: "invoke" } };
    case "aws:cloudwatch/logGroup:LogGroup": {
      const n = inputs.name ?? `${name}-1234567`;
      return { id: n, state: { name: n, arn: arn("logs", `log-group:${n}`) } };
    }
    case "aws:sqs/queue:Queue": {
      const n = inputs.name ?? `${name}-1234567`;
      return {
        id: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${n}`,
        state: { name: n, arn: arn("sqs", n), url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${n}` },
      };
    }
    case "aws:sns/topic:Topic":
      return { id: arn("sns", `${name}-1234567`), state: { arn: arn("sns", `${name}-1234567`) } };
    case "aws:iam/role:Role":
      return { id: `${name}-1234567`, state: { name: `${name}-1234567`, arn: `arn:aws:iam::${ACCOUNT}:role/${name}-1234567` } };
    case "aws:iam/instanceProfile:InstanceProfile":
      return { id: `${name}-1234567`, state: { name: `${name}-1234567`, arn: `arn:aws:iam::${ACCOUNT}:instance-profile/${name}-1234567` } };
    case "aws:ssm/parameter:Parameter":
      return { id: inputs.name, state: { arn: arn("ssm", `parameter${inputs.name}`) } };
    case "aws:iam/accessKey:AccessKey":
      return {
        id: `AKIAMOCK${name
          .replace(/[^A-Za-z0-9]/g, "")
          .toUpperCase()
          .slice(0, 12)}`,
        state: { secret: `MockSecretAccessKey${name.replace(/[^A-Za-z0-9]/g, "")}` },
      };
    case "aws:iam/group:Group":
    case "aws:iam/user:User":
      return { id: inputs.name, state: { arn: `arn:aws:iam::${ACCOUNT}:${type.endsWith("Group") ? "group" : "user"}${inputs.path ?? "/"}${inputs.name}` } };
    case "aws:lambda/eventSourceMapping:EventSourceMapping":
      return { id: `esm-${name}`, state: { uuid: `00000000-0000-0000-0000-${name.length.toString().padStart(12, "0")}` } };
    case "random:index/randomPassword:RandomPassword":
      return { id: name, state: { result: `MockSecret${name.replace(/[^A-Za-z0-9]/g, "")}x7Q9z` } };
    case "aws:ec2/launchTemplate:LaunchTemplate":
      return { id: `lt-${name}`, state: { latestVersion: 3, arn: arn("ec2", `launch-template/lt-${name}`) } };
    case "aws:ec2/instance:Instance":
      return {
        id: `i-${name}`,
        state: {
          privateIp: "10.42.0.10",
          publicIp: "198.51.100.10",
          privateDns: "ip-10-42-0-10.eu-west-2.compute.internal",
          arn: arn("ec2", `instance/i-${name}`),
        },
      };
    case "aws:ec2/eip:Eip":
      return { id: `eipalloc-${name}`, state: { publicIp: "198.51.100.20", publicDns: "ec2-198-51-100-20.eu-west-2.compute.amazonaws.com" } };
    case "aws:ebs/volume:Volume":
      return { id: "vol-0123456789abcdef0", state: { arn: arn("ec2", "volume/vol-0123456789abcdef0") } };
    case "aws:cloudfront/distribution:Distribution":
      return { id: "E2EXAMPLE", state: { domainName: "d111111abcdef8.cloudfront.net", arn: `arn:aws:cloudfront::${ACCOUNT}:distribution/E2EXAMPLE` } };
    case "aws:cloudfront/vpcOrigin:VpcOrigin":
      return { id: "vo_EXAMPLE", state: { arn: `arn:aws:cloudfront::${ACCOUNT}:vpcorigin/vo_EXAMPLE` } };
    case "aws:wafv2/ipSet:IpSet":
    case "aws:wafv2/webAcl:WebAcl":
      return {
        id: `${name}-id`,
        state: { arn: `arn:aws:wafv2:us-east-1:${ACCOUNT}:global/${type.endsWith("IpSet") ? "ipset" : "webacl"}/${name}/${name}-id` },
      };
    case "aws:ec2/securityGroup:SecurityGroup":
      return { id: `sg-${name}`, state: { arn: arn("ec2", `security-group/sg-${name}`) } };
    case "awsx:ec2:Vpc":
      return {
        id: `${name}`,
        state: { vpcId: "vpc-0a1b2c3d", publicSubnetIds: ["subnet-0a", "subnet-0b", "subnet-0c"], privateSubnetIds: [], isolatedSubnetIds: [] },
      };
    case "aws:redshiftserverless/workgroup:Workgroup":
      return { id: inputs.workgroupName, state: { arn: arn("redshift-serverless", "workgroup/0f0e0d0c-aaaa-bbbb-cccc-000000000001") } };
    case "aws:redshiftserverless/namespace:Namespace":
      return {
        id: inputs.namespaceName,
        state: {
          arn: arn("redshift-serverless", "namespace/0f0e0d0c-aaaa-bbbb-cccc-000000000002"),
          adminPasswordSecretArn: arn("secretsmanager", "secret:redshift!coffeetl-admin-AbCdEf"),
        },
      };
    default:
      return { id: `${name}-id`, state: {} };
  }
}

/**
 * Sets the mocks and the stack config (`coffeetl:` keys without the prefix), imports the program,
 * and returns what it declared plus its module exports (the stack outputs).
 */
export async function runProgram(
  config: Record<string, string>,
  stack = "acme-prod",
  /** Answers for invokes by token, before the defaults below (e.g. an existing resource's lookup). */
  answers: Record<string, (args: Record<string, any>) => Record<string, unknown>> = {},
): Promise<Harness & { outputs: Record<string, unknown> }> {
  const resources: Recorded[] = [];
  const invokes: Harness["invokes"] = [];
  const relations = new Map<string, { parent?: string; dependsOn: string[]; protect?: boolean }>();

  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const { id, state } = computed(args.type, args.name, args.inputs);
        const rel = relations.get(`${args.type}::${args.name}`) ?? { dependsOn: [] };
        resources.push({
          type: args.type,
          name: args.name,
          id,
          inputs: args.inputs,
          props: { ...args.inputs, ...state },
          ...rel,
          ...(args.provider ? { provider: args.provider } : {}),
        });
        return { id, state: { ...args.inputs, ...state } };
      },
      call(args) {
        invokes.push({ token: args.token, args: args.inputs });
        const answer = answers[args.token];
        if (answer) return answer(args.inputs);
        return lookup(args.token, args.inputs);
      },
    },
    "coffeetl",
    stack,
    false,
  );
  pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [k.includes(":") ? k : `coffeetl:${k}`, v])));
  // The stack resource must exist before a stack transformation can be registered: run the program
  // inside it, as the Pulumi language host does.
  let program: Record<string, unknown> = {};
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((t) => {
      const deps = t.opts.dependsOn;
      const list = deps === undefined ? [] : Array.isArray(deps) ? deps : [deps];
      relations.set(`${t.type}::${t.name}`, {
        parent: t.opts.parent && (t.opts.parent as Named).__pulumiType !== "pulumi:pulumi:Stack" ? label(t.opts.parent) : undefined,
        dependsOn: list.filter((d): d is pulumi.Resource => pulumi.Resource.isInstance(d)).map((d) => (d as Named).__name ?? "?"),
        ...(t.opts.protect !== undefined ? { protect: t.opts.protect } : {}),
      });
      return undefined;
    });
    program = (await import("../../index.js")) as Record<string, unknown>;
    return undefined;
  });
  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(program)) outputs[key] = await settle(value);
  // Let the last registrations (children created inside applies) reach the mocks.
  await new Promise((r) => setTimeout(r, 50));

  const { byType, one } = finders(resources);
  return { resources, invokes, byType, one, outputs };
}

/** The value of an Output (or a plain value), failing after `ms` rather than hanging. */
/** What the mocks answer a data-source call (getRegion, getCallerIdentity, ...): fixed, plausible values. */
export function lookup(token: string, inputs: Record<string, any>): Record<string, unknown> {
  switch (token) {
    case "aws:index/getRegion:getRegion":
      return { name: REGION, region: REGION, id: REGION };
    case "aws:index/getCallerIdentity:getCallerIdentity":
      return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/ci`, userId: "AIDAEXAMPLE", id: ACCOUNT };
    case "aws:index/getPartition:getPartition":
      return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
    case "aws:ec2/getManagedPrefixList:getManagedPrefixList":
      return { id: "pl-4fa04526", name: inputs.name };
    case "aws:ec2/getSubnet:getSubnet":
      return { id: inputs.id, availabilityZone: "eu-west-2a" };
    case "aws:ec2/getRouteTables:getRouteTables":
      return { id: "eu-west-2", ids: ["rtb-0private"] };
    case "aws:ec2/getRouteTable:getRouteTable":
      return { id: inputs.routeTableId, routeTableId: inputs.routeTableId, routes: [{ cidrBlock: "0.0.0.0/0", natGatewayId: "nat-0abc" }] };
    case "aws:redshiftserverless/getWorkgroup:getWorkgroup":
      return {
        arn: `arn:aws:redshift-serverless:${REGION}:${ACCOUNT}:workgroup/11111111-2222-3333-4444-555555555555`,
        workgroupName: inputs.workgroupName,
      };
    default:
      return {};
  }
}

/** Lookups over the resources the mocks recorded: all of a type, or the one of a type and name. */
export function finders(resources: Recorded[]): Pick<Harness, "byType" | "one"> {
  const byType = (type: string) => resources.filter((r) => r.type === type);
  const one = (type: string, name: string) => {
    const found = resources.find((r) => r.type === type && r.name === name);
    if (!found)
      throw new Error(
        `no ${type} named ${name}; declared: ${
          byType(type)
            .map((r) => r.name)
            .join(", ") || "none"
        }`,
      );
    return found;
  };
  return { byType, one };
}

export function settle<T>(value: pulumi.Input<T> | undefined, ms = 10_000): Promise<T | undefined> {
  if (value === undefined) return Promise.resolve(undefined);
  if (!pulumi.Output.isInstance(value)) return Promise.resolve(value as T);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`output did not resolve within ${ms} ms`)), ms);
    (value as pulumi.Output<T>).apply((v) => {
      clearTimeout(timer);
      resolve(v);
      return v;
    });
  });
}

/** The statements of a policy document input (a JSON string). */
export function statementsOf(policy: unknown): Record<string, any>[] {
  const doc = typeof policy === "string" ? JSON.parse(policy) : policy;
  const s = (doc as { Statement: unknown }).Statement;
  return (Array.isArray(s) ? s : [s]) as Record<string, any>[];
}

export const asList = <X>(v: X | X[] | undefined): X[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
