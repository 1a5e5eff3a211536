// `coffeetl upload FILE...`: a branch's files into the stack's raw bucket, with that branch's upload
// credentials (docs/uploads.md): a profile JSON file an operator hands over (--credentials), or the
// stack's SSM parameter read with the operator's own AWS login (--stack --uploader). The credentials
// may only PutObject under their prefix, so the command never lists or reads the bucket.
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { basename } from "node:path";
import { AbortMultipartUploadCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { CommandContext } from "./args.js";
import { UsageError } from "./errors.js";
import { line, warn } from "./output.js";
import { duration, type ProgressStream } from "./progress.js";

interface UploadProfile {
  bucket: string;
  /** Key prefix the credentials may write under; ends with `/`. */
  prefix: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;
const ACCESS_KEY_ID = /^[A-Z0-9]{16,128}$/;

/** Checks a profile's shape; errors name the source and the field, never a credential's value. */
export function parseUploadProfile(text: string, where: string): UploadProfile {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${where}: not valid JSON; expected {"bucket", "prefix", "region", "accessKeyId", "secretAccessKey"}`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error(`${where}: expected a JSON object`);
  const field = (name: string, pattern?: RegExp, what?: string): string => {
    const v = value[name];
    if (typeof v !== "string" || v === "") throw new Error(`${where}: "${name}" is missing`);
    if (pattern && !pattern.test(v)) throw new Error(`${where}: "${name}" is not ${what}`);
    return v;
  };
  const profile: UploadProfile = {
    bucket: field("bucket", BUCKET, "an S3 bucket name"),
    prefix: field("prefix"),
    region: field("region", REGION, "an AWS region such as eu-west-2"),
    accessKeyId: field("accessKeyId", ACCESS_KEY_ID, "an AWS access key id"),
    secretAccessKey: field("secretAccessKey"),
  };
  if (!profile.prefix.endsWith("/") || profile.prefix.startsWith("/")) throw new Error(`${where}: "prefix" must end with "/" and not start with one`);
  if (typeof value.sessionToken === "string") profile.sessionToken = value.sessionToken;
  return profile;
}

/** The profile named on the command line: a local file, or the stack's SSM SecureString. */
export async function readProfile(ctx: CommandContext): Promise<{ profile: UploadProfile; source: string }> {
  const { credentials, stack, uploader, parameter, region } = ctx.values as Record<string, string | undefined>;
  if (credentials && (stack || uploader || parameter)) throw new UsageError("upload: give --credentials FILE, or --stack with --uploader, not both", "upload");
  if (credentials) {
    const text = await readFile(credentials, "utf8").catch((error: NodeJS.ErrnoException) => {
      throw new Error(`upload: cannot read the credentials file ${credentials}: ${error.code === "ENOENT" ? "no such file" : error.message}`);
    });
    const mode = (await stat(credentials)).mode;
    if (process.platform !== "win32" && mode & 0o077) warn(`coffeetl: warning: ${credentials} is readable by other users; chmod 600 it`);
    return { profile: parseUploadProfile(text, credentials), source: credentials };
  }
  if (!parameter && !(stack && uploader)) {
    throw new UsageError("upload needs --credentials FILE (an upload profile), or --stack STACK --uploader NAME", "upload");
  }
  const name = parameter ?? `/coffeetl/${stack}/uploaders/${uploader}`;
  const [{ SSMClient }, { readParameter }] = await Promise.all([import("@aws-sdk/client-ssm"), import("../functions/aws/ssm.js")]);
  const ssm = new SSMClient(region ? { region } : {});
  const text = await readParameter(ssm, name).catch((error: Error) => {
    throw new Error(`upload: ${error.message}${/does not exist/.test(error.message) ? " (check --stack and --uploader)" : ""}`);
  });
  return { profile: parseUploadProfile(text, `SSM parameter ${name}`), source: `SSM parameter ${name}` };
}

export interface UploadReport {
  path: string;
  key: string;
  ok: boolean;
  bytes: number;
  durationMs: number;
  versionId?: string;
  error?: string;
}

function explain(error: Error & { name?: string }, profile: UploadProfile): string {
  if (error.name === "NoSuchBucket") return `no such bucket: s3://${profile.bucket} (was the stack destroyed or renamed? ask the operator for a new profile)`;
  if (error.name === "AccessDenied" || /access denied/i.test(error.message)) {
    return `access denied: these credentials may only write under s3://${profile.bucket}/${profile.prefix} (revoked or rotated? ask the operator for a new profile)`;
  }
  if (error.name === "InvalidAccessKeyId" || error.name === "SignatureDoesNotMatch")
    return `the upload credentials were refused (${error.name}); ask the operator for a new profile`;
  return error.message;
}

/** A multipart upload that failed part-way: the part's error, and what became of the parts sent. */
class MultipartFailure extends Error {}

async function abortParts(client: S3Client, bucket: string, key: string, uploadId: string, error: Error, profile: UploadProfile): Promise<MultipartFailure> {
  const cause = `a part of the upload failed: ${explain(error, profile)}${error.name && error.name !== "Error" && !error.message.includes(error.name) ? ` (${error.name})` : ""}`;
  try {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
    return new MultipartFailure(`${cause}; nothing was stored (the parts sent were removed); run the command again`);
  } catch (abortError) {
    const e = abortError as Error;
    return new MultipartFailure(
      `${cause}; the parts already sent could not be removed (${e.name}: ${e.message}) and are deleted by the bucket's lifecycle rule within 7 days; run the command again`,
    );
  }
}

const kb = (bytes: number) => (bytes < 1048576 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1048576).toFixed(1)} MB`);

/** Uploads each file to `<prefix><file name>`; one report per file, in order; a failure never stops the others. */
export async function uploadFiles(
  profile: UploadProfile,
  paths: string[],
  options: { progress?: ProgressStream; onReport?(report: UploadReport): void } = {},
): Promise<UploadReport[]> {
  const client = new S3Client({
    region: profile.region,
    credentials: {
      accessKeyId: profile.accessKeyId,
      secretAccessKey: profile.secretAccessKey,
      ...(profile.sessionToken ? { sessionToken: profile.sessionToken } : {}),
    },
  });
  const tty = options.progress?.isTTY ? options.progress : undefined;
  const reports: UploadReport[] = [];
  const names = new Map<string, string>();
  for (const [index, path] of paths.entries()) {
    const started = Date.now();
    const key = profile.prefix + basename(path);
    const report: UploadReport = { path, key, ok: false, bytes: 0, durationMs: 0 };
    try {
      if (!/\.csv$/i.test(path)) throw new Error("not a .csv file (the pipeline reads .csv files only)");
      if (names.has(key)) throw new Error(`same file name as ${names.get(key)}: both would be ${key}`);
      names.set(key, path);
      const info = await stat(path).catch(() => {
        throw new Error("no such file");
      });
      if (!info.isFile()) throw new Error("not a file");
      report.bytes = info.size;
      const upload = new Upload({
        client,
        params: { Bucket: profile.bucket, Key: key, Body: createReadStream(path), ContentType: "text/csv", ContentLength: info.size },
        queueSize: 4,
        partSize: 8 * 1024 * 1024,
        // Aborted below, so a failed part is reported as itself, not as whatever the abort met.
        leavePartsOnError: true,
      });
      if (tty) {
        upload.on("httpUploadProgress", ({ loaded = 0 }) => {
          const elapsed = Date.now() - started;
          const rate = elapsed > 0 ? (loaded * 1000) / elapsed : 0;
          const eta = rate > 0 && loaded < info.size ? `  ETA ${duration(((info.size - loaded) * 1000) / rate)}` : "";
          tty.write(
            `\r\x1b[K[${index + 1}/${paths.length}] ${basename(path)}  ${Math.floor((100 * loaded) / Math.max(1, info.size))}%  ${kb(loaded)}/${kb(info.size)}${eta}`,
          );
        });
      }
      let result;
      try {
        result = await upload.done();
      } catch (error) {
        throw upload.uploadId ? await abortParts(client, profile.bucket, key, upload.uploadId, error as Error, profile) : error;
      }
      Object.assign(report, { ok: true, ...(result.VersionId ? { versionId: result.VersionId } : {}) });
    } catch (error) {
      report.error = error instanceof MultipartFailure ? error.message : explain(error as Error, profile);
    } finally {
      tty?.write("\r\x1b[K");
    }
    report.durationMs = Date.now() - started;
    options.onReport?.(report);
    reports.push(report);
  }
  client.destroy();
  return reports;
}

export async function uploadCommand(ctx: CommandContext): Promise<number> {
  // Each file is first run through the pipeline's own transform: --check stops there (no credentials
  // needed); otherwise a file the pipeline would fail whole is not sent.
  const { checkFile, expandUploadPaths, printCheck } = await import("./upload-check.js");
  const paths = await expandUploadPaths(ctx.args);
  if (ctx.values.check) {
    let failed = 0;
    for (const path of paths) {
      const report = await checkFile(path);
      printCheck(report);
      if (!report.ok) failed++;
    }
    line(`${paths.length} file${paths.length === 1 ? "" : "s"} checked: ${paths.length - failed} would load, ${failed} would fail. Nothing was sent.`);
    return failed ? 1 : 0;
  }
  const { profile, source } = await readProfile(ctx);
  const refused: string[] = [];
  const toSend: string[] = [];
  for (const path of paths) {
    const report = await checkFile(path);
    // Missing and non-.csv files are left to the upload's own report.
    if (!report.ok && report.summary === undefined && !/^(no such file|not a \.csv file|not a file)/.test(report.error ?? "")) {
      line(`✘ ${path}: not sent: the pipeline would fail it: ${report.error}`);
      refused.push(path);
    } else toSend.push(path);
  }
  line(`Uploading ${toSend.length} file${toSend.length === 1 ? "" : "s"} to s3://${profile.bucket}/${profile.prefix} (credentials: ${source})`);
  const reports = await uploadFiles(profile, toSend, {
    progress: process.stderr,
    onReport(r) {
      const time = `${(r.durationMs / 1000).toFixed(2)}s`;
      line(
        r.ok
          ? `✔ ${r.path} → s3://${profile.bucket}/${r.key} (${kb(r.bytes)}, ${time}${r.versionId ? `, version ${r.versionId}` : ""})`
          : `✘ ${r.path}: ${r.error}`,
      );
    },
  });
  const failed = reports.filter((r) => !r.ok).length + refused.length;
  const total = reports.length + refused.length;
  const uploaded = total - failed;
  line(
    `${total} file${total === 1 ? "" : "s"}: ${uploaded} uploaded, ${failed} failed.${uploaded ? " Uploaded files are transformed and loaded within minutes." : " Nothing was uploaded."}`,
  );
  return failed ? 1 : 0;
}
