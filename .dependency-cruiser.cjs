// Import rules of the repository (docs/design.md §1), checked by tests/layers.test.ts in
// `npm test` and by hand with `npx depcruise --config .dependency-cruiser.cjs functions infra cli grafana/lib index.ts`.
//
// functions/ is layered; an import may only point down:
//
//   core        pure rules and formats: imports core and node/npm libraries only
//   app         services and the ports they need (Storage, Warehouse): imports core
//   adapters    aws, local, warehouse: import app and core. warehouse is the SQL both warehouse
//               adapters speak (aws/redshift-warehouse.ts, local/postgres-warehouse.ts), so aws and
//               local may import it; it imports neither, and aws and local never import each other.
//   entries     the Lambda handlers (extract-transform, load, upload-check) and cli/: anything below.
//
// infra/ (the Pulumi program) may import functions/ only for the names both sides must agree on:
// object names (core/manifest.ts), the defaults the stack hands the functions (core/limits.ts), and
// the database roles with their bootstrap SQL (warehouse/roles.ts, warehouse/reader-role.ts).
// No cycles anywhere.

const FUNCTIONS_TO_INFRA = "^functions/(core/(manifest|limits)|warehouse/(roles|reader-role))\\.ts$";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "An import cycle: the modules cannot be read, tested or moved one at a time. Move the shared part down.",
      from: { path: "^(functions|infra|cli|grafana/lib)/|^index\\.ts$" },
      to: { circular: true },
    },
    {
      name: "core-is-pure",
      severity: "error",
      comment: "functions/core is the bottom layer: it imports only core and node/npm libraries.",
      from: { path: "^functions/core/" },
      to: { path: "^(functions/(?!core/)|infra/|cli/|grafana/|tests/|bench/|scripts/)" },
    },
    {
      name: "app-imports-core-only",
      severity: "error",
      comment: "functions/app (services and ports) may import core only, never an adapter or an entry point.",
      from: { path: "^functions/app/" },
      to: { path: "^(functions/(?!core/|app/)|infra/|cli/|grafana/|tests/|bench/|scripts/)" },
    },
    {
      name: "warehouse-sql-below-its-adapters",
      severity: "error",
      comment: "functions/warehouse is the shared SQL: it imports app and core, never aws, local or an entry point.",
      from: { path: "^functions/warehouse/" },
      to: { path: "^(functions/(?!core/|app/|warehouse/)|infra/|cli/|grafana/|tests/|bench/|scripts/)" },
    },
    {
      name: "adapters-stay-apart",
      severity: "error",
      comment: "functions/aws and functions/local import app, core and warehouse, never each other or an entry point.",
      from: { path: "^functions/(aws|local)/" },
      to: { path: "^(functions/(?!core/|app/|warehouse/|$1/)|infra/|cli/|grafana/|tests/|bench/|scripts/)" },
    },
    {
      name: "handlers-are-leaves",
      severity: "error",
      comment: "A Lambda handler imports the layers below it, never another handler, cli/ or infra/.",
      from: { path: "^functions/(extract-transform|load|upload-check)/" },
      to: { path: "^(functions/(extract-transform|load|upload-check)/|infra/|cli/|grafana/|tests/|bench/|scripts/)", pathNot: "^functions/$1/" },
    },
    {
      name: "functions-are-not-deploy-code",
      severity: "error",
      comment: "Runtime code never imports Pulumi: the Lambda bundles and the CLI would carry the deploy engine.",
      from: { path: "^functions/" },
      to: { path: "node_modules/@pulumi/" },
    },
    {
      name: "infra-imports-shared-names-only",
      severity: "error",
      comment:
        "infra/ may import from functions/ only the names both sides must agree on (core/manifest.ts, core/limits.ts, warehouse/roles.ts, " +
        "warehouse/reader-role.ts). Anything else belongs in infra/ or in one of those files.",
      from: { path: "^(infra/|index\\.ts$)" },
      to: { path: "^functions/", pathNot: FUNCTIONS_TO_INFRA },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // Type-only imports count: a cycle through a type is still a cycle for a reader.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      extensions: [".ts", ".js", ".mjs", ".cjs", ".json"],
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
    },
  },
};
