// The ingest progress display. On a terminal: one status line on stderr, redrawn 4 times a second,
// covering both phases of each file: transform (share of bytes read, rows/s, ETA) and load (rows,
// elapsed, rows/s and ETA from the loads already done in this run). Elsewhere nothing: the report
// prints one line per file. A file done within the first redraw never shows a status line.
import { closeSync, openSync, readSync } from "node:fs";
import { basename } from "node:path";
import type { FileReport } from "../functions/local/pipeline.js";

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

type Phase = { name: "transform"; read: number; size: number } | { name: "load"; rows: number; files: number };

const REDRAW_MS = 250;
const SAMPLE_BYTES = 64 * 1024;

/** Bytes per row near the start of a file, to turn bytes read into rows; undefined for an empty file. */
function bytesPerRow(path: string): number | undefined {
  const buffer = Buffer.alloc(SAMPLE_BYTES);
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const n = readSync(fd, buffer, 0, SAMPLE_BYTES, 0);
    let rows = 0;
    for (let i = 0; i < n; i++) if (buffer[i] === 10 || (buffer[i] === 13 && buffer[i + 1] !== 10)) rows++;
    return rows > 0 ? n / rows : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const count = (n: number) => Math.round(n).toLocaleString("en-GB");
const mb = (bytes: number) => (bytes / 1048576).toFixed(1);

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60
    ? `${s}s`
    : s < 3600
      ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
      : `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}

function bar(share: number, width = 20): string {
  const full = Math.round(Math.min(1, Math.max(0, share)) * width);
  return "█".repeat(full) + "░".repeat(width - full);
}

export class IngestProgress {
  private readonly enabled: boolean;
  private file?: { path: string; index: number; bytesPerRow: number | undefined };
  private phase?: Phase & { started: number };
  private begun = 0;
  private timer?: NodeJS.Timeout;
  private shown = false;
  /** Rows and milliseconds of the loads finished in this run: the load rate behind the load ETA. */
  private loaded = { rows: 0, ms: 0 };

  constructor(
    private readonly stream: ProgressStream,
    private readonly files: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.enabled = stream.isTTY === true;
  }

  fileStart(path: string, size: number): void {
    if (!this.enabled) return;
    this.file = { path, index: ++this.begun, bytesPerRow: bytesPerRow(path) };
    this.phase = { name: "transform", read: 0, size, started: this.clock() };
    this.timer ??= setInterval(() => this.draw(), REDRAW_MS).unref();
  }

  transformProgress(_path: string, read: number, size: number): void {
    if (this.phase?.name === "transform") Object.assign(this.phase, { read, size });
  }

  /** The load of a batch of transformed files (one or several) starts. */
  loadStart(paths: string[], rows: number): void {
    if (!this.enabled) return;
    this.phase = { name: "load", rows, files: paths.length, started: this.clock() };
    if (paths.length === 1) this.file = { path: paths[0]!, index: this.file?.index ?? this.begun, bytesPerRow: undefined };
  }

  /** A file is reported: after its load (the first report of a batch ends the batch's load). */
  fileDone(report: FileReport): void {
    if (!this.enabled) return;
    if (this.phase?.name === "load" && report.ok) {
      this.loaded.rows += this.phase.rows;
      this.loaded.ms += this.clock() - this.phase.started;
    }
    this.phase = undefined;
    this.clear();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  /** The status line for the current moment (without terminal control characters). */
  render(): string | undefined {
    if (!this.file || !this.phase) return undefined;
    const now = this.clock();
    const elapsed = now - this.phase.started;
    const head =
      this.phase.name === "load" && this.phase.files > 1
        ? `[${this.begun - this.phase.files + 1}-${this.begun}/${this.files}] ${this.phase.files} files`
        : `[${this.file.index}/${this.files}] ${basename(this.file.path)}`;
    if (this.phase.name === "transform") {
      const { read, size } = this.phase;
      const share = size > 0 ? read / size : 0;
      const bytesPerSec = elapsed > 0 ? (read * 1000) / elapsed : 0;
      const rows = this.file.bytesPerRow && bytesPerSec > 0 ? `~${count(bytesPerSec / this.file.bytesPerRow)} rows/s` : "";
      const eta = bytesPerSec > 0 && read < size ? `ETA ${duration(((size - read) * 1000) / bytesPerSec)}` : "";
      return [head, "transform", bar(share), `${Math.floor(share * 100)}%`, `${mb(read)}/${mb(size)} MB`, rows, eta].filter(Boolean).join("  ");
    }
    const { rows } = this.phase;
    const rate = this.loaded.ms > 0 ? (this.loaded.rows * 1000) / this.loaded.ms : undefined;
    const eta = rate ? `ETA ~${duration(Math.max(0, (rows * 1000) / rate - elapsed))}` : "";
    return [head, "load", `${count(rows)} rows`, duration(elapsed), rate ? `~${count(rate)} rows/s` : "", eta].filter(Boolean).join("  ");
  }

  private draw(): void {
    const text = this.render();
    if (text === undefined) return;
    const width = Math.max(20, (this.stream.columns ?? 80) - 1);
    this.stream.write(`\r\x1b[K${text.length > width ? text.slice(0, width - 1) + "…" : text}`);
    this.shown = true;
  }

  private clear(): void {
    if (this.shown) this.stream.write("\r\x1b[K");
    this.shown = false;
  }
}
