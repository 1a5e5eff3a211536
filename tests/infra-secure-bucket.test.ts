// infra/secure-bucket.ts alone under mocks: what a SecureBucket promises (docs/design.md's buckets):
// no public access, no ACLs, SSE-S3, TLS only (the policy waits for the access block), versioning and
// lifecycle rules only when asked for.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SecureBucket } from "../infra/secure-bucket.js";
import { declare } from "./infra/component.js";
import { statementsOf } from "./infra/harness.js";

const d = await declare(() => {
  new SecureBucket("raw", { bucketPrefix: "coffeetl-acme-raw-", versioned: true, noncurrentVersionExpirationDays: 30, tags: { team: "data" } });
  new SecureBucket("scratch", { versioned: false, expirationDays: 7 });
});
const bucketOf = (name: string) => d.one("aws:s3/bucket:Bucket", name);
const forBucket = (type: string, name: string) => d.byType(type).filter((r) => r.inputs.bucket === bucketOf(name).id);

test("each bucket is a child of its component, never force-destroyed by default", () => {
  const raw = bucketOf("raw");
  assert.is(raw.parent, "coffeetl:storage:SecureBucket::raw");
  assert.is(raw.inputs.bucketPrefix, "coffeetl-acme-raw-");
  assert.is(raw.inputs.forceDestroy, false);
  assert.equal(raw.inputs.tags, { team: "data" });
});

for (const name of ["raw", "scratch"]) {
  test(`${name}: every public access switch is on and ACLs are disabled`, () => {
    const [block] = forBucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", name);
    assert.ok(block, "a public access block");
    for (const flag of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) assert.is(block!.inputs[flag], true, flag);
    const [ownership] = forBucket("aws:s3/bucketOwnershipControls:BucketOwnershipControls", name);
    assert.is(ownership?.inputs.rule.objectOwnership, "BucketOwnerEnforced");
  });

  test(`${name}: objects are encrypted at rest (SSE-S3, bucket key)`, () => {
    const [enc] = forBucket("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", name);
    assert.equal(enc?.inputs.rules, [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }]);
  });

  test(`${name}: the policy denies every request over plain HTTP, on the bucket and its objects, after the access block`, () => {
    const [policy] = forBucket("aws:s3/bucketPolicy:BucketPolicy", name);
    assert.ok(policy, "a bucket policy");
    const arn = bucketOf(name).props.arn as string;
    const deny = statementsOf(policy!.inputs.policy).find((s) => s.Effect === "Deny");
    assert.ok(deny, "a deny statement");
    assert.equal(deny!.Principal, "*");
    assert.equal(deny!.Action, "s3:*");
    assert.equal(deny!.Condition, { Bool: { "aws:SecureTransport": "false" } });
    assert.equal(deny!.Resource, [arn, `${arn}/*`]);
    assert.equal(policy!.dependsOn, [`${name}-public-access`]);
  });

  test(`${name}: unfinished multipart uploads are aborted after 7 days`, () => {
    const [lifecycle] = forBucket("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", name);
    const abort = (lifecycle?.inputs.rules as any[]).find((r) => r.id === "abort-incomplete-uploads");
    assert.equal(abort?.abortIncompleteMultipartUpload, { daysAfterInitiation: 7 });
  });
}

test("versioning and the noncurrent-version expiry exist only on the versioned bucket; the lifecycle waits for versioning", () => {
  const [versioning] = forBucket("aws:s3/bucketVersioning:BucketVersioning", "raw");
  assert.is(versioning?.inputs.versioningConfiguration.status, "Enabled");
  assert.is(forBucket("aws:s3/bucketVersioning:BucketVersioning", "scratch").length, 0);
  const [lifecycle] = forBucket("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "raw");
  assert.equal(lifecycle!.dependsOn, ["raw-versioning"]);
  const noncurrent = (lifecycle!.inputs.rules as any[]).find((r) => r.id === "expire-noncurrent-versions");
  assert.equal(noncurrent?.noncurrentVersionExpiration, { noncurrentDays: 30 });
  assert.equal(noncurrent?.expiration, { expiredObjectDeleteMarker: true });
  assert.not.ok(
    (lifecycle!.inputs.rules as any[]).some((r) => r.id === "expire-objects"),
    "current objects are kept",
  );
});

test("expirationDays expires current objects", () => {
  const [lifecycle] = forBucket("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "scratch");
  const rules = lifecycle!.inputs.rules as any[];
  assert.equal(rules.find((r) => r.id === "expire-objects")?.expiration, { days: 7 });
  assert.not.ok(rules.some((r) => r.id === "expire-noncurrent-versions"));
});

test.run();
