// The branch manager's uploader: `coffeetl upload` alone, built by scripts/build-uploader.js into one
// file (dist/coffeetl-upload.mjs, the AWS SDK and the transform inside) that runs with plain Node 22,
// no clone, no `npm ci`. The operator hands it over with the branch's credentials file:
//   node coffeetl-upload.mjs --credentials leeds.json 2024-03-01.csv
import { parseCommandLine } from "./args.js";
import { UsageError } from "./errors.js";
import { guardPipes, warn } from "./output.js";
import { uploadCommand } from "./upload.js";

async function main(argv: string[]): Promise<number> {
  const { ctx, print } = parseCommandLine(["upload", ...argv]);
  if (print !== undefined) {
    process.stdout.write(print.replace(/coffeetl upload/g, "node coffeetl-upload.mjs"));
    return 0;
  }
  return uploadCommand(ctx!);
}

guardPipes();
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    warn(`coffeetl-upload: ${error.message}`);
    if (error instanceof UsageError) warn("Run `node coffeetl-upload.mjs --help` for usage.");
    process.exitCode = error instanceof UsageError ? 2 : 1;
  },
);
