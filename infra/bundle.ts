// Bundles a Lambda handler with esbuild while the program runs, into memory.
//
// Output: one ES module `index.mjs` (handler `index.handler`) plus its source map, everything bundled
// (the AWS SDK v3 included, so the versions in package-lock.json are the versions that run, not the
// ones the Lambda runtime happens to ship). The archive is an AssetArchive of StringAssets: Pulumi
// hashes their contents, so the same code always yields the same archive and no diff, unlike a zip
// whose bytes carry timestamps.
import { buildSync, type BuildOptions, type Message, type OutputFile } from "esbuild";
import { createHash } from "node:crypto";
import { basename, dirname, isAbsolute, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";

/** The repository root (this file lives in `<root>/infra`). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Lambda runtime the bundles target; the esbuild target follows from it. */
export const LAMBDA_RUNTIME = "nodejs22.x";
export const LAMBDA_HANDLER = "index.handler";

export interface Bundle {
  /** What goes into `aws.lambda.Function.code`. */
  archive: pulumi.asset.AssetArchive;
  /** The files, by archive path (`index.mjs`, `index.mjs.map`). */
  files: Record<string, string>;
  /** SHA-256 of the bundled code, for tags and tests. */
  sha256: string;
}

// Some bundled CommonJS packages call `require()` for Node built-ins; an ES module has none.
const REQUIRE_SHIM = 'import { createRequire as __coffeetlCreateRequire } from "node:module"; const require = __coffeetlCreateRequire(import.meta.url);';

const BUILD_OPTIONS = {
  bundle: true,
  write: false,
  platform: "node",
  format: "esm",
  target: "node22",
  // Prefer the ES module builds of dependencies (the AWS SDK ships both).
  mainFields: ["module", "main"],
  banner: { js: REQUIRE_SHIM },
  sourcemap: "external",
  // Paths in the map are relative to the repository, never the machine it was built on.
  sourceRoot: "",
  sourcesContent: false,
  minify: false,
  keepNames: true,
  legalComments: "none",
  logLevel: "silent",
} satisfies BuildOptions;

/** Bundles `entry` (relative to the repository root, or absolute) into an in-memory Lambda archive. */
export function bundleHandler(entry: string): Bundle {
  const entryPoint = isAbsolute(entry) ? entry : join(REPO_ROOT, entry);
  let outputFiles: OutputFile[];
  try {
    ({ outputFiles } = buildSync({ ...BUILD_OPTIONS, absWorkingDir: REPO_ROOT, entryPoints: [relative(REPO_ROOT, entryPoint)], outfile: "index.mjs" }));
  } catch (error) {
    const messages = (error as { errors?: Message[] }).errors ?? [];
    const details = messages.map((e) => `  ${e.location ? `${e.location.file}:${e.location.line}: ` : ""}${e.text}`).join("\n");
    throw new Error(`esbuild could not bundle ${entry}:\n${details || String(error)}`, { cause: error });
  }
  const files: Record<string, string> = {};
  for (const file of outputFiles) files[basename(file.path)] = file.text;
  const code = files["index.mjs"];
  if (code === undefined) throw new Error(`esbuild produced no index.mjs for ${entry}`);
  const assets: Record<string, pulumi.asset.Asset> = {};
  for (const name of Object.keys(files).sort()) assets[name] = new pulumi.asset.StringAsset(files[name]!);
  return { archive: new pulumi.asset.AssetArchive(assets), files, sha256: createHash("sha256").update(code).digest("hex") };
}
