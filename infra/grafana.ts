// The Grafana host, reachable only through its HTTPS front (grafana-front.ts):
//
//   viewer ──https──► CloudFront (default certificate, WAF: grafanaAllowedCidrs)
//                        │ http + secret origin header, from CloudFront's origin-facing addresses only
//                        ▼
//   EC2 (AL2023, IMDSv2) nginx :80 (checks the header) ──► Grafana container on 127.0.0.1:3000
//        ├─ Grafana's database on its own encrypted EBS volume (survives instance replacement)
//        ├─ grafana/ + settings.json from the assets bucket, re-applied every minute when
//        │  grafana/VERSION changes (grafana/host/sync.sh): dashboards never replace the instance
//        └─ reads the warehouse as the read-only reader identity (grafana-access.ts)
//
// Why this front (cost, eu-west-2 list prices): CloudFront's default certificate needs no domain;
// a host on a public address whose security group admits only CloudFront's managed prefix list
// costs the public IPv4 (~$3.60/month) and WAF (~$6/month: ACL + one rule). A private host would
// need a NAT gateway (~$35/month + data) or interface endpoints for SSM, S3 (gateway, free),
// Redshift Data API, CloudWatch and STS (~$8/month each per AZ) and still no route to Docker Hub and
// grafana.com: more than the t4g.small host (~$13/month) itself. A private host is accepted only in
// a client subnet that already has a NAT route (checked at preview), through a CloudFront VPC origin.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { join } from "node:path";
import { READER_ROLE } from "../functions/warehouse/reader-role.js";
import { REPO_ROOT } from "./bundle.js";
import { slug } from "./config.js";
import type { GrafanaHostSettings } from "./grafana-config.js";
import { GrafanaFront, type GrafanaFrontArgs } from "./grafana-front.js";
import { digestOf, readGrafanaAssets } from "./grafana-assets.js";
import { renderGrafanaUserData } from "./grafana-user-data.js";
import { GrafanaViewers } from "./grafana-viewers.js";
import { arn, assumeRolePolicy, parameterArn, policyJson, type AwsContext, type PolicyStatement } from "./iam.js";
import { SecretParameter } from "./secret-parameter.js";
import { SecureBucket } from "./secure-bucket.js";

/** nginx on the host: the only port the front reaches. Grafana itself listens on loopback only. */
const ORIGIN_PORT = 80;
const CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing";

export interface GrafanaArgs extends GrafanaHostSettings {
  context: AwsContext;
  stack: string;
  /** Prefix of the stack's SSM parameters (e.g. /coffeetl/acme-prod). */
  parameterPrefix: string;
  vpcId: pulumi.Input<string>;
  subnetId: pulumi.Input<string>;
  /** The folder uploaded to the assets bucket (default: the repository's grafana/). */
  assetsDir?: string;
  adminPasswordParameter: { name: pulumi.Input<string>; arn: pulumi.Input<string> };
  /** The warehouse connection parameter (coffeetl:redshiftParameterName). */
  warehouseParameterName: string;
  /** Data API and credential statements for the reader identity (grafana-access.ts). */
  warehouseStatements: PolicyStatement[];
  tags?: Record<string, string>;
}

export class Grafana extends pulumi.ComponentResource {
  readonly assets: SecureBucket;
  readonly role: aws.iam.Role;
  readonly securityGroup: aws.ec2.SecurityGroup;
  readonly launchTemplate: aws.ec2.LaunchTemplate;
  readonly instance: aws.ec2.Instance;
  readonly dataVolume: aws.ebs.Volume;
  readonly front: GrafanaFront;
  readonly viewers: GrafanaViewers;
  readonly url: pulumi.Output<string>;
  readonly assetsSha256: string;

  constructor(name: string, args: GrafanaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:grafana:Grafana", name, {}, opts);
    // On a Serverless warehouse the stack creates, the reader role is made by infra/warehouse-roles.ts
    // (idempotent, as the namespace's admin); the loader's schema step grants on it.
    const originSecret = this.createOriginSecret(name, args);
    this.viewers = new GrafanaViewers(`${name}-viewers`, { viewers: args.viewers, parameterPrefix: args.parameterPrefix, tags: args.tags }, { parent: this });
    this.assets = this.createAssetsBucket(name, args);
    this.assetsSha256 = this.uploadAssets(name, args);
    this.role = this.createRole(name, args);
    const rolePolicy = this.createRolePolicy(name, args, originSecret);
    const profile = new aws.iam.InstanceProfile(`${name}-profile`, { role: this.role.name, tags: args.tags }, { parent: this });
    this.securityGroup = this.createSecurityGroup(name, args);
    // A host without a public address must have a way out: checked at preview, before its user data.
    const egressChecked = args.associatePublicIp ? pulumi.output(true) : requirePrivateEgress(args.vpcId, args.subnetId, this);
    this.dataVolume = this.createDataVolume(name, args);
    this.launchTemplate = this.createLaunchTemplate(name, args, profile);
    this.instance = this.createInstance(name, args, egressChecked, rolePolicy);
    this.attachDataVolume(name);
    this.front = this.createFront(name, args, originSecret);
    this.url = this.front.url;
    this.publishSettings(name, args, originSecret);
    this.registerOutputs({
      url: this.url,
      instanceId: this.instance.id,
      assetsBucket: this.assets.name,
      viewerParameters: this.viewers.accounts.map((a) => a.passwordParameter),
    });
  }

  /** The header CloudFront sends and the host checks. */
  private createOriginSecret(name: string, args: GrafanaArgs): SecretParameter {
    return new SecretParameter(
      `${name}-origin-secret`,
      {
        parameterName: `${args.parameterPrefix}/grafana/origin-secret`,
        description: "CoffeETL Grafana: header CloudFront sends and the host checks",
        length: 40,
        tags: args.tags,
      },
      { parent: this },
    );
  }

  /** Dashboards, provisioning and the host's sync script, one object per file. */
  private createAssetsBucket(name: string, args: GrafanaArgs): SecureBucket {
    return new SecureBucket(
      `${name}-assets`,
      { bucketPrefix: `coffeetl-${slug(args.stack, 15)}-grafana-`, versioned: false, forceDestroy: true, tags: args.tags },
      { parent: this },
    );
  }

  /** Uploads grafana/ to the assets bucket; returns the files' digest. */
  private uploadAssets(name: string, args: GrafanaArgs): string {
    const { files, sha256 } = readGrafanaAssets(args.assetsDir ?? join(REPO_ROOT, "grafana"), { stack: args.stack, refreshInterval: args.refreshInterval });
    if (files.length === 0) pulumi.log.warn("grafana/ holds no provisioning or dashboard files: Grafana will start empty", this);
    for (const file of files) {
      new aws.s3.BucketObjectv2(
        `${name}-asset-${file.path}`,
        { bucket: this.assets.bucket.id, key: `grafana/${file.path}`, content: file.content, contentType: file.contentType, tags: args.tags },
        { parent: this, dependsOn: this.assets.ready },
      );
    }
    return sha256;
  }

  /** Instance role: tagged so that, on Serverless, its IAMR database user holds the reader role. */
  private createRole(name: string, args: GrafanaArgs): aws.iam.Role {
    return new aws.iam.Role(
      `${name}-role`,
      { description: "CoffeETL Grafana host", assumeRolePolicy: assumeRolePolicy("ec2.amazonaws.com"), tags: { ...args.tags, RedshiftDbRoles: READER_ROLE } },
      { parent: this },
    );
  }

  /** What the host may do: read its assets and own parameters, query the warehouse and metrics, Session Manager. */
  private createRolePolicy(name: string, args: GrafanaArgs, originSecret: SecretParameter): aws.iam.RolePolicy {
    const ctx = args.context;
    const ownParameters: pulumi.Input<string>[] = [
      args.adminPasswordParameter.arn,
      originSecret.arn,
      ...this.viewers.accounts.map((a) => a.passwordParameterArn),
      parameterArn(ctx, args.warehouseParameterName),
    ];
    return new aws.iam.RolePolicy(
      `${name}-policy`,
      {
        role: this.role.id,
        policy: policyJson([
          {
            Sid: "ListAssets",
            Effect: "Allow",
            Action: "s3:ListBucket",
            Resource: this.assets.arn,
            Condition: { StringLike: { "s3:prefix": ["grafana/", "grafana/*"] } },
          },
          { Sid: "ReadAssets", Effect: "Allow", Action: "s3:GetObject", Resource: pulumi.interpolate`${this.assets.arn}/grafana/*` },
          { Sid: "ReadOwnParameters", Effect: "Allow", Action: "ssm:GetParameter", Resource: ownParameters },
          {
            // SecureStrings are decrypted by SSM with the parameter's ARN as encryption context: only these.
            Sid: "DecryptOwnParameters",
            Effect: "Allow",
            Action: "kms:Decrypt",
            Resource: arn(ctx, "kms", "key/*"),
            Condition: {
              StringEquals: { "kms:ViaService": pulumi.interpolate`ssm.${ctx.region}.${ctx.dnsSuffix}`, "kms:EncryptionContext:PARAMETER_ARN": ownParameters },
            },
          },
          ...args.warehouseStatements,
          {
            // CloudWatch metric reads take no resource; read-only, for the pipeline-health dashboard.
            Sid: "ReadMetrics",
            Effect: "Allow",
            Action: [
              "cloudwatch:GetMetricData",
              "cloudwatch:GetMetricStatistics",
              "cloudwatch:ListMetrics",
              "cloudwatch:DescribeAlarms",
              "cloudwatch:DescribeAlarmsForMetric",
              "cloudwatch:DescribeAlarmHistory",
              "ec2:DescribeRegions",
              "tag:GetResources",
            ],
            Resource: "*",
          },
          // Session Manager (no SSH), without AmazonSSMManagedInstanceCore's read of every parameter.
          { Sid: "SessionManagerRegistration", Effect: "Allow", Action: "ssm:UpdateInstanceInformation", Resource: arn(ctx, "ec2", "instance/*") },
          {
            Sid: "SessionManagerChannels",
            Effect: "Allow",
            Action: ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"],
            Resource: "*",
          },
        ]),
      },
      { parent: this },
    );
  }

  /**
   * Network: in, the origin port from CloudFront's origin-facing addresses only (no address range,
   * no SSH); out, HTTPS (AWS APIs, Docker Hub, grafana.com plugins). DNS, NTP, IMDS are not filtered.
   */
  private createSecurityGroup(name: string, args: GrafanaArgs): aws.ec2.SecurityGroup {
    const parent = { parent: this };
    const securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      { vpcId: args.vpcId, description: "CoffeETL Grafana: HTTP from CloudFront only, HTTPS out", tags: args.tags },
      parent,
    );
    const cloudfront = aws.ec2.getManagedPrefixListOutput({ name: CLOUDFRONT_ORIGIN_FACING_PREFIX_LIST }, parent);
    new aws.vpc.SecurityGroupIngressRule(
      `${name}-ingress-cloudfront`,
      {
        securityGroupId: securityGroup.id,
        ipProtocol: "tcp",
        fromPort: ORIGIN_PORT,
        toPort: ORIGIN_PORT,
        prefixListId: cloudfront.id,
        description: "CloudFront origin-facing",
      },
      parent,
    );
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-egress-https`,
      {
        securityGroupId: securityGroup.id,
        ipProtocol: "tcp",
        fromPort: 443,
        toPort: 443,
        cidrIpv4: "0.0.0.0/0",
        description: "HTTPS to AWS APIs and image/plugin registries",
      },
      parent,
    );
    return securityGroup;
  }

  /** Grafana's state: its own volume in the subnet's zone, kept when the instance is replaced. */
  private createDataVolume(name: string, args: GrafanaArgs): aws.ebs.Volume {
    const zone = aws.ec2.getSubnetOutput({ id: args.subnetId }, { parent: this }).availabilityZone;
    return new aws.ebs.Volume(
      `${name}-data`,
      {
        availabilityZone: zone,
        size: args.dataVolumeSizeGb,
        type: "gp3",
        encrypted: true,
        tags: { ...args.tags, Name: `coffeetl-${args.stack}-grafana-data` },
      },
      { parent: this, protect: false },
    );
  }

  private createLaunchTemplate(name: string, args: GrafanaArgs, profile: aws.iam.InstanceProfile): aws.ec2.LaunchTemplate {
    return new aws.ec2.LaunchTemplate(
      `${name}-template`,
      {
        description: "CoffeETL Grafana host",
        imageId: `resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${args.architecture}`,
        instanceType: args.instanceType,
        iamInstanceProfile: { arn: profile.arn },
        metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 2, instanceMetadataTags: "disabled" },
        blockDeviceMappings: [
          { deviceName: "/dev/xvda", ebs: { volumeSize: args.volumeSizeGb, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" } },
        ],
        networkInterfaces: [
          {
            subnetId: args.subnetId,
            securityGroups: [this.securityGroup.id],
            associatePublicIpAddress: String(args.associatePublicIp),
            deleteOnTermination: "true",
          },
        ],
        monitoring: { enabled: true },
        tagSpecifications: [
          { resourceType: "instance", tags: { ...args.tags, Name: `coffeetl-${args.stack}-grafana` } },
          { resourceType: "volume", tags: { ...args.tags, Name: `coffeetl-${args.stack}-grafana` } },
        ],
        updateDefaultVersion: true,
        tags: args.tags,
      },
      { parent: this },
    );
  }

  private createInstance(name: string, args: GrafanaArgs, egressChecked: pulumi.Output<boolean>, rolePolicy: aws.iam.RolePolicy): aws.ec2.Instance {
    // Names only, and nothing a dashboard, viewer or setting changes.
    const userData = pulumi
      .all([args.context.region, this.assets.name, this.dataVolume.id, egressChecked])
      .apply(([region, assetsBucket, dataVolumeId]) => renderGrafanaUserData({ region, assetsBucket, dataVolumeId, stack: args.stack }));
    return new aws.ec2.Instance(
      name,
      {
        launchTemplate: { id: this.launchTemplate.id, version: this.launchTemplate.latestVersion.apply((v) => String(v)) },
        userData,
        userDataReplaceOnChange: true,
        tags: { ...args.tags, Name: `coffeetl-${args.stack}-grafana` },
      },
      // A new template version (instance type, root volume, network) replaces the instance; the data
      // volume moves to the new one. The role comes first: the host uses it at first boot.
      { parent: this, dependsOn: [rolePolicy], replaceOnChanges: ["launchTemplate"] },
    );
  }

  /** Detach (after stopping the old instance, so Grafana's database is flushed) before attaching anew. */
  private attachDataVolume(name: string): void {
    new aws.ec2.VolumeAttachment(
      `${name}-data-attachment`,
      { deviceName: "/dev/sdf", volumeId: this.dataVolume.id, instanceId: this.instance.id, stopInstanceBeforeDetaching: true },
      { parent: this, deleteBeforeReplace: true },
    );
  }

  /** The HTTPS front; with a public address, a stable public name for its origin while instances come and go. */
  private createFront(name: string, args: GrafanaArgs, originSecret: SecretParameter): GrafanaFront {
    const origin: GrafanaFrontArgs["origin"] = args.associatePublicIp
      ? {
          kind: "public",
          domainName: new aws.ec2.Eip(`${name}-ip`, { domain: "vpc", instance: this.instance.id, tags: args.tags }, { parent: this }).publicDns,
        }
      : { kind: "vpc", instanceArn: this.instance.arn, privateDnsName: this.instance.privateDns };
    return new GrafanaFront(
      `${name}-front`,
      { stack: args.stack, allowedCidrs: args.allowedCidrs, origin, originSecret: originSecret.parameter.value, tags: args.tags },
      { parent: this },
    );
  }

  /** What the host applies on its own (grafana/host/sync.sh): names, never values; then the version it watches. */
  private publishSettings(name: string, args: GrafanaArgs, originSecret: SecretParameter): void {
    const settings = pulumi.jsonStringify({
      stack: args.stack,
      rootUrl: pulumi.interpolate`${this.url}/`,
      image: args.image,
      plugins: args.plugins,
      minRefreshInterval: args.refreshInterval,
      warehouseParameter: args.warehouseParameterName,
      readerDbUser: args.readerDbUser,
      adminPasswordParameter: args.adminPasswordParameter.name,
      originSecretParameter: originSecret.name,
      viewers: this.viewers.accounts.map((a) => ({
        login: a.login,
        email: a.email,
        ...(a.name ? { name: a.name } : {}),
        passwordParameter: a.passwordParameter,
      })),
    });
    const settingsObject = new aws.s3.BucketObjectv2(
      `${name}-settings`,
      { bucket: this.assets.bucket.id, key: "grafana/settings.json", content: settings, contentType: "application/json", tags: args.tags },
      { parent: this, dependsOn: this.assets.ready },
    );
    // Written last: the host applies a new version when this object's ETag changes.
    new aws.s3.BucketObjectv2(
      `${name}-version`,
      {
        bucket: this.assets.bucket.id,
        key: "grafana/VERSION",
        content: settings.apply(
          (s) =>
            `${digestOf([
              ["files", this.assetsSha256],
              ["settings.json", s],
            ])}\n`,
        ),
        contentType: "text/plain",
        tags: args.tags,
      },
      { parent: this, dependsOn: [settingsObject] },
    );
  }
}

/** Why a private host in `subnet` (route table `tableId` with `routes`) could not get out, or undefined. */
export function privateEgressProblem(
  subnet: string,
  tableId: string | undefined,
  routes: { cidrBlock?: string; natGatewayId?: string; transitGatewayId?: string; networkInterfaceId?: string }[],
): string | undefined {
  const out = routes.find((r) => r.cidrBlock === "0.0.0.0/0" && (r.natGatewayId || r.transitGatewayId || r.networkInterfaceId));
  if (out) return undefined;
  return (
    `coffeetl:grafanaPublicIp is false, but subnet ${subnet} has no route to the internet through a NAT gateway, transit gateway or appliance ` +
    `(route table ${tableId ?? "not found"}): the host could not install Grafana or reach AWS. Use a subnet with such a route, or keep grafanaPublicIp true ` +
    "(a public address that admits only CloudFront)"
  );
}

/**
 * A host without a public address needs a way out (image, plugins, AWS APIs): its subnet's route
 * table must send 0.0.0.0/0 to a NAT gateway, a transit gateway or an appliance. Checked at preview.
 */
function requirePrivateEgress(vpcId: pulumi.Input<string>, subnetId: pulumi.Input<string>, parent: pulumi.Resource): pulumi.Output<boolean> {
  const opts = { parent };
  return pulumi.all([vpcId, subnetId]).apply(async ([vpc, subnet]) => {
    const explicit = await aws.ec2.getRouteTables({ vpcId: vpc, filters: [{ name: "association.subnet-id", values: [subnet] }] }, opts);
    const main = explicit.ids?.length
      ? explicit
      : await aws.ec2.getRouteTables({ vpcId: vpc, filters: [{ name: "association.main", values: ["true"] }] }, opts);
    const tableId = main.ids?.[0];
    const routes = tableId ? ((await aws.ec2.getRouteTable({ routeTableId: tableId }, opts)).routes ?? []) : [];
    const problem = privateEgressProblem(subnet, tableId, routes);
    if (problem) throw new Error(problem);
    return true;
  });
}
