// infra/upload-identities.ts alone under mocks: one IAM user per branch, tagged with its name; one
// group policy allowing PutObject only under uploads/<own tag>/; each key's JSON in a SecureString.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { OWN_PREFIX_VARIABLE, UploadIdentities, uploadPrefix } from "../infra/upload-identities.js";
import { declare, secretValue } from "./infra/component.js";
import { statementsOf } from "./infra/harness.js";

const d = await declare(() => {
  new UploadIdentities("uploads", {
    namePrefix: "coffeetl-acme-prod",
    uploaders: ["leeds", "york"],
    rawBucketName: "coffeetl-acme-raw-1",
    rawBucketArn: "arn:aws:s3:::coffeetl-acme-raw-1",
    region: "eu-west-2",
    parameterPrefix: "/coffeetl/acme-prod",
  });
});

test("one group policy: PutObject and abort only under the caller's own tagged prefix", () => {
  assert.is(OWN_PREFIX_VARIABLE, "${aws:PrincipalTag/coffeetl-uploader}");
  assert.is(uploadPrefix("leeds"), "uploads/leeds/");
  const [policy, ...more] = d.byType("aws:iam/groupPolicy:GroupPolicy");
  assert.is(more.length, 0);
  assert.is(policy!.inputs.group, "coffeetl-acme-prod-uploaders");
  assert.equal(statementsOf(policy!.inputs.policy), [
    {
      Sid: "PutObjectsUnderOwnPrefix",
      Effect: "Allow",
      Action: ["s3:PutObject", "s3:AbortMultipartUpload"],
      Resource: "arn:aws:s3:::coffeetl-acme-raw-1/uploads/${aws:PrincipalTag/coffeetl-uploader}/*",
    },
  ]);
});

test("each uploader: a user tagged with its name, in the group, with no policy of its own", () => {
  const users = d.byType("aws:iam/user:User");
  assert.equal(users.map((u) => [u.inputs.name, u.inputs.tags["coffeetl-uploader"]]).sort(), [
    ["coffeetl-acme-prod-upload-leeds", "leeds"],
    ["coffeetl-acme-prod-upload-york", "york"],
  ]);
  assert.equal(
    d
      .byType("aws:iam/userGroupMembership:UserGroupMembership")
      .map((m) => [m.inputs.user, m.inputs.groups])
      .sort(),
    [
      ["coffeetl-acme-prod-upload-leeds", ["coffeetl-acme-prod-uploaders"]],
      ["coffeetl-acme-prod-upload-york", ["coffeetl-acme-prod-uploaders"]],
    ],
  );
  assert.is(d.byType("aws:iam/userPolicy:UserPolicy").length + d.byType("aws:iam/userPolicyAttachment:UserPolicyAttachment").length, 0);
});

test("each key is stored as the JSON `coffeetl upload` reads, a secret in a SecureString under the stack's prefix", () => {
  const p = d.one("aws:ssm/parameter:Parameter", "uploads-leeds-credentials");
  assert.equal([p.inputs.name, p.inputs.type], ["/coffeetl/acme-prod/uploaders/leeds", "SecureString"]);
  const key = d.one("aws:iam/accessKey:AccessKey", "uploads-leeds-key");
  assert.equal(JSON.parse(secretValue(p.inputs.value) as string), {
    bucket: "coffeetl-acme-raw-1",
    prefix: "uploads/leeds/",
    region: "eu-west-2",
    accessKeyId: key.id,
    secretAccessKey: key.props.secret,
  });
});

test.run();
