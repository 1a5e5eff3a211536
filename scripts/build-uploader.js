#!/usr/bin/env node
// Builds the branch manager's uploader: `coffeetl upload` as one self-contained file,
// dist/coffeetl-upload.mjs (the AWS SDK, csv-parse and the transform bundled in), which runs with plain
// Node 22 or newer and nothing installed. The operator hands it over with the credentials file
// (docs/uploads.md). Run by npm's `prepare` beside the CLI build.
import { build } from "esbuild";
import { mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";

const root = new URL("..", import.meta.url).pathname;
// An output path may be given (the tests build into a scratch folder, never over dist/).
const outfile = process.argv[2] ? resolve(process.argv[2]) : join(root, "dist/coffeetl-upload.mjs");
await mkdir(dirname(outfile), { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: ["cli/uploader.ts"],
  outfile,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node22",
  minify: true,
  legalComments: "eof",
  // The bundled CommonJS packages (the AWS SDK) require Node's built-in modules.
  banner: {
    js:
      "#!/usr/bin/env node\n// coffeetl-upload: a branch's files into the stack's raw bucket. `node coffeetl-upload.mjs --help`.\n" +
      'import { createRequire as __coffeetlRequire } from "node:module"; const require = __coffeetlRequire(import.meta.url);',
  },
  logLevel: "warning",
});
