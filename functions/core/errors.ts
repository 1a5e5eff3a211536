/** Input that cannot be transformed at all (binary, not CSV, no readable sale). Retrying will not help. */
export class UnreadableFileError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "UnreadableFileError";
  }
}

/** A raw key with its control characters written out (`\n`, `\t`, `\u0007`), as people and status can read it. */
export const visibleKey = (key: string): string =>
  // eslint-disable-next-line no-control-regex
  key.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === "\u007f" ? "\\u007f" : JSON.stringify(c).slice(1, -1)));
