// The Grafana host: an assets bucket holding the repository's grafana/ folder, an instance role
// allowed only what Grafana needs, a security group admitting only the configured CIDRs on the
// Grafana port (no SSH: Session Manager), a launch template (Amazon Linux 2023, IMDSv2 only with hop
// limit 2 for the container, encrypted gp3 root, no key pair) and one instance from it, with an
// Elastic IP so the URL survives the instance being replaced.
//
// AMI: the launch template's image is `resolve:ssm:<public AL2023 parameter>`, resolved by EC2 when an
// instance launches, so a new AMI release changes nothing in the stack (no replacement on every
// release); each new instance (e.g. after a dashboard change) boots the latest AL2023.
// Rolling: the user data carries the digest of grafana/ and `userDataReplaceOnChange`, so a change
// to any provisioning or dashboard file replaces the instance, which syncs the new files at boot.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { join } from "node:path";
import { REPO_ROOT } from "./bundle.js";
import { slug } from "./config.js";
import { readGrafanaAssets } from "./grafana-assets.js";
import { renderGrafanaUserData } from "./grafana-user-data.js";
import { assumeRolePolicy, parameterArn, policyJson, ssmDecryptStatement, type AwsContext, type PolicyStatement } from "./iam.js";
import { SecureBucket } from "./secure-bucket.js";

export const GRAFANA_PORT = 3000;

/** The host's own settings, as the stack configuration gives them (infra/config.ts). */
export interface GrafanaHostSettings {
  allowedCidrs: string[];
  instanceType: string;
  /** Architecture the AMI must match, derived from the instance type. */
  architecture: "arm64" | "x86_64";
  volumeSizeGb: number;
  image: string;
  plugins: string;
  associatePublicIp: boolean;
}

export interface GrafanaArgs extends GrafanaHostSettings {
  context: AwsContext;
  stack: string;
  vpcId: pulumi.Input<string>;
  subnetId: pulumi.Input<string>;
  /** The folder uploaded to the assets bucket (default: the repository's grafana/). */
  assetsDir?: string;
  adminPasswordParameter: { name: pulumi.Input<string>; arn: pulumi.Input<string> };
  /** The warehouse connection parameter (coffeetl:redshiftParameterName). */
  warehouseParameterName: string;
  /** Data API and credential statements for the warehouse (see warehouse-access.ts). */
  warehouseStatements: PolicyStatement[];
  tags?: Record<string, string>;
}

export class Grafana extends pulumi.ComponentResource {
  readonly assets: SecureBucket;
  readonly role: aws.iam.Role;
  readonly securityGroup: aws.ec2.SecurityGroup;
  readonly launchTemplate: aws.ec2.LaunchTemplate;
  readonly instance: aws.ec2.Instance;
  readonly url: pulumi.Output<string>;
  readonly assetsSha256: string;

  constructor(name: string, args: GrafanaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:grafana:Grafana", name, {}, opts);
    const parent = { parent: this };
    const ctx = args.context;

    // Dashboards and provisioning, one object per file.
    this.assets = new SecureBucket(
      `${name}-assets`,
      { bucketPrefix: `coffeetl-${slug(args.stack, 15)}-grafana-`, versioned: false, forceDestroy: true, tags: args.tags },
      parent,
    );
    const { files, sha256 } = readGrafanaAssets(args.assetsDir ?? join(REPO_ROOT, "grafana"));
    this.assetsSha256 = sha256;
    if (files.length === 0) pulumi.log.warn("grafana/ holds no provisioning or dashboard files: Grafana will start empty", this);
    const objects = files.map(
      (file) =>
        new aws.s3.BucketObjectv2(
          `${name}-asset-${file.path}`,
          { bucket: this.assets.bucket.id, key: `grafana/${file.path}`, content: file.content, contentType: file.contentType, tags: args.tags },
          { parent: this, dependsOn: this.assets.ready },
        ),
    );

    // Instance role.
    this.role = new aws.iam.Role(
      `${name}-role`,
      { description: "CoffeETL Grafana host", assumeRolePolicy: assumeRolePolicy("ec2.amazonaws.com"), tags: args.tags },
      parent,
    );
    new aws.iam.RolePolicyAttachment(
      `${name}-session-manager`,
      { role: this.role.name, policyArn: pulumi.interpolate`arn:${ctx.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore` },
      parent,
    );
    const rolePolicy = new aws.iam.RolePolicy(
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
          {
            Sid: "ReadOwnParameters",
            Effect: "Allow",
            Action: "ssm:GetParameter",
            Resource: [args.adminPasswordParameter.arn, parameterArn(ctx, args.warehouseParameterName)],
          },
          ssmDecryptStatement(ctx),
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
        ]),
      },
      parent,
    );
    const profile = new aws.iam.InstanceProfile(`${name}-profile`, { role: this.role.name, tags: args.tags }, parent);

    // Network: the Grafana port from the configured CIDRs only; out, HTTPS only (AWS APIs, package
    // repositories, Docker Hub, grafana.com plugins). DNS, NTP and IMDS are not filtered by groups.
    this.securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      { vpcId: args.vpcId, description: "CoffeETL Grafana: port 3000 from allowed CIDRs, HTTPS out", tags: args.tags },
      parent,
    );
    args.allowedCidrs.forEach(
      (cidr, i) =>
        new aws.vpc.SecurityGroupIngressRule(
          `${name}-ingress-${i}`,
          { securityGroupId: this.securityGroup.id, ipProtocol: "tcp", fromPort: GRAFANA_PORT, toPort: GRAFANA_PORT, cidrIpv4: cidr, description: "Grafana" },
          parent,
        ),
    );
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-egress-https`,
      { securityGroupId: this.securityGroup.id, ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv4: "0.0.0.0/0", description: "HTTPS to AWS APIs and image/plugin registries" },
      parent,
    );

    this.launchTemplate = new aws.ec2.LaunchTemplate(
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
          { subnetId: args.subnetId, securityGroups: [this.securityGroup.id], associatePublicIpAddress: String(args.associatePublicIp), deleteOnTermination: "true" },
        ],
        monitoring: { enabled: true },
        tagSpecifications: [
          { resourceType: "instance", tags: { ...args.tags, Name: `coffeetl-${args.stack}-grafana` } },
          { resourceType: "volume", tags: { ...args.tags, Name: `coffeetl-${args.stack}-grafana` } },
        ],
        updateDefaultVersion: true,
        tags: args.tags,
      },
      parent,
    );

    const userData = pulumi
      .all([ctx.region, this.assets.name, args.adminPasswordParameter.name])
      .apply(([region, assetsBucket, adminPasswordParameter]) =>
        renderGrafanaUserData({
          region,
          assetsBucket,
          assetsSha256: sha256,
          adminPasswordParameter,
          warehouseParameter: args.warehouseParameterName,
          image: args.image,
          plugins: args.plugins,
          stack: args.stack,
          port: GRAFANA_PORT,
        }),
      );
    this.instance = new aws.ec2.Instance(
      name,
      {
        launchTemplate: { id: this.launchTemplate.id, version: this.launchTemplate.latestVersion.apply((v) => String(v)) },
        userData,
        userDataReplaceOnChange: true,
        tags: { ...args.tags, Name: `coffeetl-${args.stack}-grafana` },
      },
      // A new template version (instance type, volume, network) also replaces the instance; it syncs
      // the assets and assumes its role at first boot, so those come first.
      { parent: this, dependsOn: [...objects, rolePolicy], replaceOnChanges: ["launchTemplate"] },
    );

    let host: pulumi.Output<string>;
    if (args.associatePublicIp) {
      const ip = new aws.ec2.Eip(`${name}-ip`, { domain: "vpc", instance: this.instance.id, tags: args.tags }, parent);
      host = ip.publicIp;
    } else {
      host = this.instance.privateIp;
    }
    this.url = pulumi.interpolate`http://${host}:${GRAFANA_PORT}`;
    this.registerOutputs({ url: this.url, instanceId: this.instance.id, assetsBucket: this.assets.name });
  }
}
