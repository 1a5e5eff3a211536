// HTTPS in front of the Grafana host, no domain needed: a CloudFront distribution with its default
// certificate (https://dxxxx.cloudfront.net), caching off (Grafana is dynamic), viewers redirected to
// HTTPS, and a WAF web ACL that admits only coffeetl:grafanaAllowedCidrs. CloudFront's WAF must live
// in us-east-1, hence this component's own provider for that region.
//
// The origin is the host's HTTP port 80 (nginx in front of Grafana): on its public address (default),
// where the host's security group admits only CloudFront's origin-facing prefix list; or, for a host
// on a private address, a CloudFront VPC origin. Every request carries a secret origin header that
// nginx checks, so another CloudFront distribution cannot reach the host either.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { regionalProvider } from "./aws-provider.js";

/** AWS-managed policies: Managed-CachingDisabled and Managed-AllViewer (every header, cookie, query string). */
export const CACHING_DISABLED_POLICY = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
export const ALL_VIEWER_ORIGIN_REQUEST_POLICY = "216adef6-5c7f-47e4-b989-5492eafa07d3";
export const ORIGIN_HEADER = "X-CoffeETL-Origin";
const ORIGIN_ID = "grafana-host";

export interface GrafanaFrontArgs {
  stack: string;
  /** Viewer IPv4 CIDRs; a /0 (coffeetl:allowPublicGrafana) leaves the ACL open. */
  allowedCidrs: string[];
  origin: { kind: "public"; domainName: pulumi.Input<string> } | { kind: "vpc"; instanceArn: pulumi.Input<string>; privateDnsName: pulumi.Input<string> };
  originSecret: pulumi.Input<string>;
  tags?: Record<string, string>;
}

export class GrafanaFront extends pulumi.ComponentResource {
  readonly distribution: aws.cloudfront.Distribution;
  readonly webAcl: aws.wafv2.WebAcl;
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: GrafanaFrontArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:grafana:GrafanaFront", name, {}, opts);
    const parent = { parent: this };
    // With the stack's aws: settings (profile, assumed roles, default tags): infra/aws-provider.ts.
    const usEast1 = regionalProvider(`${name}-us-east-1`, "us-east-1", parent);
    const global = { parent: this, provider: usEast1 };
    const metric = (suffix: string) => ({
      cloudwatchMetricsEnabled: true,
      metricName: `coffeetl-${args.stack}-grafana-${suffix}`.slice(0, 128),
      sampledRequestsEnabled: true,
    });

    const open = args.allowedCidrs.some((c) => c.endsWith("/0"));
    const rules: aws.types.input.wafv2.WebAclRule[] = [];
    if (!open) {
      const ipSet = new aws.wafv2.IpSet(
        `${name}-allowed`,
        { scope: "CLOUDFRONT", ipAddressVersion: "IPV4", addresses: args.allowedCidrs, description: "coffeetl:grafanaAllowedCidrs", tags: args.tags },
        global,
      );
      rules.push({
        name: "allow-configured-cidrs",
        priority: 0,
        action: { allow: {} },
        statement: { ipSetReferenceStatement: { arn: ipSet.arn } },
        visibilityConfig: metric("allowed"),
      });
    }
    this.webAcl = new aws.wafv2.WebAcl(
      `${name}-acl`,
      {
        scope: "CLOUDFRONT",
        description: `CoffeETL Grafana (${args.stack}): only coffeetl:grafanaAllowedCidrs`,
        defaultAction: open ? { allow: {} } : { block: {} },
        rules,
        visibilityConfig: metric("acl"),
        tags: args.tags,
      },
      global,
    );

    let originTarget: Pick<aws.types.input.cloudfront.DistributionOrigin, "domainName" | "customOriginConfig" | "vpcOriginConfig">;
    if (args.origin.kind === "public") {
      originTarget = {
        domainName: args.origin.domainName,
        // The host has no certificate CloudFront would trust; the leg is HTTP inside AWS's network,
        // limited to CloudFront's addresses and the secret header.
        customOriginConfig: {
          httpPort: 80,
          httpsPort: 443,
          originProtocolPolicy: "http-only",
          originSslProtocols: ["TLSv1.2"],
          originReadTimeout: 60,
          originKeepaliveTimeout: 5,
        },
      };
    } else {
      const vpcOrigin = new aws.cloudfront.VpcOrigin(
        `${name}-vpc-origin`,
        {
          vpcOriginEndpointConfig: {
            name: `coffeetl-${args.stack}-grafana`.slice(0, 64),
            arn: args.origin.instanceArn,
            httpPort: 80,
            httpsPort: 443,
            originProtocolPolicy: "http-only",
            originSslProtocols: { items: ["TLSv1.2"], quantity: 1 },
          },
          tags: args.tags,
        },
        parent,
      );
      originTarget = {
        domainName: args.origin.privateDnsName,
        vpcOriginConfig: { vpcOriginId: vpcOrigin.id, originReadTimeout: 60, originKeepaliveTimeout: 5 },
      };
    }

    this.distribution = new aws.cloudfront.Distribution(
      `${name}-cdn`,
      {
        enabled: true,
        comment: `CoffeETL Grafana (${args.stack})`,
        isIpv6Enabled: false, // the WAF IP set is IPv4 (coffeetl:grafanaAllowedCidrs)
        httpVersion: "http2and3",
        priceClass: "PriceClass_100",
        webAclId: this.webAcl.arn,
        origins: [{ originId: ORIGIN_ID, ...originTarget, customHeaders: [{ name: ORIGIN_HEADER, value: args.originSecret }] }],
        defaultCacheBehavior: {
          targetOriginId: ORIGIN_ID,
          viewerProtocolPolicy: "redirect-to-https",
          allowedMethods: ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
          cachedMethods: ["GET", "HEAD"],
          cachePolicyId: CACHING_DISABLED_POLICY,
          originRequestPolicyId: ALL_VIEWER_ORIGIN_REQUEST_POLICY,
          compress: true,
        },
        restrictions: { geoRestriction: { restrictionType: "none" } },
        viewerCertificate: { cloudfrontDefaultCertificate: true },
        tags: args.tags,
      },
      parent,
    );
    this.url = pulumi.interpolate`https://${this.distribution.domainName}`;
    this.registerOutputs({ url: this.url, distributionId: this.distribution.id, webAclArn: this.webAcl.arn });
  }
}
