// ESLint (flat config): the JavaScript and typescript-eslint recommended rules, syntax only (no type
// information: tsc already type-checks, and the whole repository lints in seconds). Run by `npm test`
// (tests/lint.test.ts) and by hand with `npx eslint .`. Formatting is not ESLint's job here.
// Each change to the recommended set below says why.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "bench/.data/", "tests/artifacts/", ".coffeetl/", ".coffeetl-demo/", "scratch/", ".ci/.node22/"] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      // tsc's noUnusedLocals/noUnusedParameters find unused names; `_` marks one left out on purpose,
      // and `{ dropped: _, ...rest }` is how an object loses a field.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true }],
      // `ok && next()` and `a ? f() : g()` as statements are deliberate; a bare value still fails.
      "@typescript-eslint/no-unused-expressions": ["error", { allowShortCircuit: true, allowTernary: true }],
    },
  },
  {
    // The dashboards preview's drawing script runs in the browser, after echarts (grafana/lib/render.ts).
    files: ["grafana/lib/preview-client.js"],
    languageOptions: { sourceType: "script", globals: { ...globals.browser, echarts: "readonly" } },
  },
  {
    files: ["tests/**", "bench/**"],
    rules: {
      // Test doubles and Pulumi mock inputs are untyped by nature (args.inputs, SDK commands, JSON).
      "@typescript-eslint/no-explicit-any": "off",
      // Expected output is matched as printed: aligned columns keep their runs of spaces.
      "no-regex-spaces": "off",
    },
  },
);
