// The logging port. Powertools' Logger satisfies it in Lambda; the CLI passes a quiet or console one.
// Callers pass keys, counts and durations only: never a raw row, name or card number.
export interface Log {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export const silentLog: Log = { info() {}, warn() {}, error() {} };
