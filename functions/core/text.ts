// Text helpers with no I/O, shared by the services and the warehouse adapters.

/** Cuts text to at most `bytes` UTF-8 bytes (VARCHAR(n) counts bytes on Redshift). */
export function clip(text: string, bytes: number): string {
  if (Buffer.byteLength(text) <= bytes) return text;
  let out = Buffer.from(text)
    .subarray(0, bytes - 3)
    .toString("utf8");
  while (Buffer.byteLength(out + "...") > bytes || out.endsWith("\uFFFD")) out = out.slice(0, -1);
  return out + "...";
}
