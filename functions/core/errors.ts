/** Input that cannot be transformed at all (binary, not CSV, no readable sale). Retrying will not help. */
export class UnreadableFileError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "UnreadableFileError";
  }
}
