// Which branches an uploader may send sales for (issue 21): a file under `uploads/<name>/` is an
// uploader's, and its rows must be for one of that uploader's branches, so a leaked or careless key
// cannot add sales to another branch's panels. Other keys (local paths, operator uploads elsewhere)
// are not checked.
/** Where uploaders write (infra/upload-identities.ts: `uploads/<name>/`). */
export const UPLOAD_ROOT_PREFIX = "uploads/";

/** `Isle of Wight`, `isle-of-wight`, ` ISLE  OF WIGHT ` → `isle-of-wight`. */
export const branchSlug = (name: string): string =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");

/**
 * The branch names allowed in `key`, or undefined when the key is not an uploader's. `overrides`:
 * the stack's per-uploader lists (coffeetl:uploaderBranches); an uploader without one may send its
 * own name's branch (`leeds` → Leeds).
 */
export function allowedBranches(key: string, overrides: Readonly<Record<string, readonly string[]>> = {}): string[] | undefined {
  if (!key.startsWith(UPLOAD_ROOT_PREFIX)) return undefined;
  const name = key.slice(UPLOAD_ROOT_PREFIX.length).split("/")[0];
  if (!name || key.length === UPLOAD_ROOT_PREFIX.length + name.length) return undefined;
  return [...(overrides[name] ?? [name])];
}

/** A row check for `parse`: the reason a branch is refused, or null. */
export function branchCheck(allowed: readonly string[]): (branch: string) => string | null {
  const slugs = new Set(allowed.map(branchSlug));
  const list = allowed.join(", ");
  return (branch) => (slugs.has(branchSlug(branch)) ? null : `branch "${branch.trim()}" is not one this uploader may send (its branches: ${list})`);
}
