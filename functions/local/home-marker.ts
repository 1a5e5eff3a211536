// What makes a folder a CoffeETL home (docs/design.md §10). Its own small module: every CLI command
// checks a home before it loads the pipeline.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

/** Made by the first command that opens a home, whichever way its key is given. */
export const HOME_MARKER = "coffeetl-home";
/** The home's own key file; homes made before the marker existed are known by it. */
export const HOME_KEY_FILE = "transaction-id.key";

/** The home's embedded warehouse (PGlite's data directory); its keeper's folder is beside it (warm-protocol.ts). */
export const warehouseDir = (home: string): string => join(resolve(home), "warehouse");

export const isHome = (home: string): boolean => [HOME_MARKER, HOME_KEY_FILE].some((m) => existsSync(join(resolve(home), m)));
