// Output that behaves in a pipeline: `coffeetl … | head -1` ends quietly instead of dying on EPIPE.
// Once the reader has gone, further output is dropped and the command finishes its work (an ingest
// half done is worse than one nobody watches); the exit status is the command's own.

let stdoutClosed = false;

export function guardPipes(): void {
  const quiet = (stream: NodeJS.WriteStream, onClose: () => void) =>
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error;
      onClose();
    });
  quiet(process.stdout, () => (stdoutClosed = true));
  quiet(process.stderr, () => {});
}

/** Whether standard output still has a reader (a command may stop producing output early). */
export const stdoutOpen = (): boolean => !stdoutClosed && !process.stdout.destroyed;

/** Writes to standard output; resolves when the text is handed to the OS (or dropped after EPIPE). */
export function write(text: string): Promise<void> {
  if (!stdoutOpen()) return Promise.resolve();
  return new Promise((resolve) => {
    if (process.stdout.write(text)) resolve();
    else process.stdout.once("drain", resolve).once("error", () => resolve());
  });
}

export function line(text = ""): void {
  if (stdoutOpen()) process.stdout.write(text + "\n");
}

export function warn(text: string): void {
  if (!process.stderr.destroyed) process.stderr.write(text + "\n");
}
