// A private S3 bucket: public access blocked, bucket-owner-enforced ownership (no ACLs), SSE-S3
// encryption, a TLS-only bucket policy, optional versioning and lifecycle. aws.s3.Bucket with the
// separate v7 configuration resources (the inline settings are deprecated).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { denyInsecureTransport, policyJson } from "./iam.js";

export interface SecureBucketArgs {
  /** Physical name prefix (at most 37 characters; AWS appends a unique suffix). Default: Pulumi auto-naming. */
  bucketPrefix?: string;
  /** Keep every version of every object (a re-upload never loses the earlier file). */
  versioned: boolean;
  /** Delete non-current versions this many days after they are superseded (versioned buckets). */
  noncurrentVersionExpirationDays?: number;
  /** Delete current objects this many days after creation. */
  expirationDays?: number;
  /** Let `pulumi destroy` delete a non-empty bucket. */
  forceDestroy?: boolean;
  tags?: Record<string, string>;
}

export class SecureBucket extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  readonly name: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;
  /** The access block, ownership, encryption, policy (and versioning): what must exist before use. */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: SecureBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:storage:SecureBucket", name, {}, opts);
    const parent = { parent: this };

    this.bucket = new aws.s3.Bucket(name, { bucketPrefix: args.bucketPrefix, forceDestroy: args.forceDestroy ?? false, tags: args.tags }, parent);
    const bucket = this.bucket.id;
    this.name = this.bucket.bucket;
    this.arn = this.bucket.arn;

    const publicAccess = new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access`,
      { bucket, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
      parent,
    );
    const ownership = new aws.s3.BucketOwnershipControls(`${name}-ownership`, { bucket, rule: { objectOwnership: "BucketOwnerEnforced" } }, parent);
    const encryption = new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      { bucket, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }] },
      parent,
    );
    const policy = new aws.s3.BucketPolicy(
      `${name}-policy`,
      {
        bucket,
        policy: policyJson([denyInsecureTransport("s3", [this.arn, pulumi.interpolate`${this.arn}/*`])]),
      },
      // S3 rejects policy writes racing the public access block.
      { parent: this, dependsOn: [publicAccess] },
    );
    this.ready = [publicAccess, ownership, encryption, policy];

    let versioning: aws.s3.BucketVersioning | undefined;
    if (args.versioned) {
      versioning = new aws.s3.BucketVersioning(`${name}-versioning`, { bucket, versioningConfiguration: { status: "Enabled" } }, parent);
      this.ready.push(versioning);
    }

    const rules: aws.types.input.s3.BucketLifecycleConfigurationRule[] = [
      { id: "abort-incomplete-uploads", status: "Enabled", filter: { prefix: "" }, abortIncompleteMultipartUpload: { daysAfterInitiation: 7 } },
    ];
    if (args.versioned && args.noncurrentVersionExpirationDays !== undefined) {
      rules.push({
        id: "expire-noncurrent-versions",
        status: "Enabled",
        filter: { prefix: "" },
        noncurrentVersionExpiration: { noncurrentDays: args.noncurrentVersionExpirationDays },
        // Delete markers left alone once every version behind them expired.
        expiration: { expiredObjectDeleteMarker: true },
      });
    }
    if (args.expirationDays !== undefined) {
      rules.push({ id: "expire-objects", status: "Enabled", filter: { prefix: "" }, expiration: { days: args.expirationDays } });
    }
    // The lifecycle must follow versioning (AWS validates noncurrent rules against the bucket state).
    new aws.s3.BucketLifecycleConfiguration(`${name}-lifecycle`, { bucket, rules }, { parent: this, dependsOn: versioning ? [versioning] : [] });

    this.registerOutputs({ name: this.name, arn: this.arn });
  }
}
