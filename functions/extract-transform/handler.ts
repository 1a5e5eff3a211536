// Placeholder: the real handler is being written (issue 3). Kept only so bundling has an entry point.
import type { S3Event } from "aws-lambda";
export async function handler(_event: S3Event): Promise<void> {
  throw new Error("not implemented yet");
}
