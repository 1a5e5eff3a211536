// `coffeetl sample`: a realistic canonical raw file on standard output; stops quietly when the reader goes.
import { pipeline } from "node:stream/promises";
import { generateSample, resolveSampleOptions } from "../functions/core/sample.js";
import { intOption, type CommandContext } from "./args.js";
import { UsageError } from "./errors.js";

export async function sampleCommand(ctx: CommandContext): Promise<number> {
  const rows = intOption(ctx, "rows", 1, 100_000_000);
  const options = {
    rows,
    seed: ctx.values.seed as string | undefined,
    branch: ctx.values.branch as string | undefined,
    date: ctx.values.date as string | undefined,
  };
  try {
    resolveSampleOptions(options);
  } catch (error) {
    throw new UsageError((error as Error).message, "sample");
  }
  await pipeline(generateSample(options), process.stdout).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
  return 0;
}
