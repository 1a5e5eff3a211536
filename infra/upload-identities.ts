// Upload credentials for branches (docs/uploads.md): one IAM user per configured name, allowed only
// s3:PutObject under `uploads/<name>/` of the raw bucket. The permission is one group policy whose
// resource names the caller's own `coffeetl-uploader` tag, so 500 branches need one group (IAM allows
// 300 groups an account) and no user carries a policy of its own (Security Hub IAM.2). Users cannot
// tag themselves, so nobody reaches another branch's prefix. Each access key's secret exists only as
// a Pulumi secret and in its SSM SecureString, as the JSON `coffeetl upload` reads.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { policyJson } from "./iam.js";

const UPLOADER_TAG = "coffeetl-uploader";
export const UPLOAD_ROOT = "uploads/";

export interface UploadIdentitiesArgs {
  /** `coffeetl-<stack>`: users are `<namePrefix>-upload-<name>`. */
  namePrefix: string;
  uploaders: string[];
  rawBucketName: pulumi.Input<string>;
  rawBucketArn: pulumi.Input<string>;
  region: pulumi.Input<string>;
  /** `/coffeetl/<stack>`: parameters are `<parameterPrefix>/uploaders/<name>`. */
  parameterPrefix: string;
  tags?: Record<string, string>;
}

/** An IAM policy variable, resolved per request from the caller's tag (not a Pulumi interpolation). */
export const OWN_PREFIX_VARIABLE = `\${aws:PrincipalTag/${UPLOADER_TAG}}`;

/**
 * What an uploader may do on `objects` (its own prefix). Multipart uploads (files over one part) are
 * PutObject too; AbortMultipartUpload lets a failed one clean up its parts, so the real error is
 * reported instead of the abort's AccessDenied, and no parts wait for the lifecycle rule.
 */
export function uploaderStatements<T>(objects: T) {
  return [{ Sid: "PutObjectsUnderOwnPrefix", Effect: "Allow" as const, Action: ["s3:PutObject", "s3:AbortMultipartUpload"], Resource: objects }];
}

/** The upload prefix of an uploader: always ends with `/`. */
export const uploadPrefix = (name: string): string => `${UPLOAD_ROOT}${name}/`;

export class UploadIdentities extends pulumi.ComponentResource {
  readonly group: aws.iam.Group;
  /** SSM parameter name per uploader. */
  readonly parameterNames: Record<string, pulumi.Output<string>> = {};

  constructor(name: string, args: UploadIdentitiesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:uploads:UploadIdentities", name, {}, opts);
    const parent = { parent: this };
    this.group = new aws.iam.Group(`${name}-group`, { name: `${args.namePrefix}-uploaders`, path: "/coffeetl/" }, parent);
    new aws.iam.GroupPolicy(
      `${name}-group-policy`,
      {
        group: this.group.name,
        policy: policyJson(uploaderStatements(pulumi.interpolate`${args.rawBucketArn}/${UPLOAD_ROOT}${OWN_PREFIX_VARIABLE}/*`)),
      },
      parent,
    );

    for (const uploader of args.uploaders) {
      const base = `${name}-${uploader}`;
      const user = new aws.iam.User(
        base,
        { name: `${args.namePrefix}-upload-${uploader}`, path: "/coffeetl/", forceDestroy: true, tags: { ...args.tags, [UPLOADER_TAG]: uploader } },
        parent,
      );
      new aws.iam.UserGroupMembership(`${base}-membership`, { user: user.name, groups: [this.group.name] }, parent);
      const key = new aws.iam.AccessKey(`${base}-key`, { user: user.name }, parent);
      const parameter = new aws.ssm.Parameter(
        `${base}-credentials`,
        {
          name: `${args.parameterPrefix}/uploaders/${uploader}`,
          description: `CoffeETL upload credentials of ${uploader}: PutObject under ${uploadPrefix(uploader)} only (docs/uploads.md)`,
          type: "SecureString",
          value: pulumi.secret(
            pulumi.jsonStringify({
              bucket: args.rawBucketName,
              prefix: uploadPrefix(uploader),
              region: args.region,
              accessKeyId: key.id,
              secretAccessKey: key.secret,
            }),
          ),
          tags: args.tags,
        },
        parent,
      );
      this.parameterNames[uploader] = parameter.name;
    }
    this.registerOutputs({ parameterNames: this.parameterNames });
  }
}
