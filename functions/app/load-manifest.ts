// Kept for callers of the one-manifest service; the batched service is load-manifests.ts.
export { loadIdOf, loadManifest, type LoadDeps } from "./load-manifests.js";
