// A full garbage collection on demand, for the one caller that needs it (transform.ts).
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

let collect: (() => void) | undefined;

/** Runs a full collection of this thread's heap. */
export function collectGarbage(): void {
  collect ??= typeof globalThis.gc === "function" ? globalThis.gc : exposedGc();
  collect();
}

/** `gc` without `node --expose-gc`: set the flag, take `gc` from a fresh context, unset it (as jest's leak detector does). */
function exposedGc(): () => void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  setFlagsFromString("--no-expose-gc");
  return gc;
}
