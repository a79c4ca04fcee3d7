// Lints the extension and webview sources with typescript-eslint's type-aware recommended rules.
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "out/**", "node_modules/**", "tests/**", "extension/bundled/**", "media/dist/**"] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ["extension/**/*.ts", "media/**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/explicit-function-return-type": ["error", { allowExpressions: true }],
      "eqeqeq": "error",
      "no-restricted-imports": ["error", { paths: [{ name: "child_process", importNames: ["exec", "execSync"], message: "Pass arguments as a list (spawn/execFile), never a shell string." }] }]
    },
  },
  {
    // node:test's test() returns a promise the runner itself awaits.
    files: ["extension/test/**/*.ts"],
    rules: { "@typescript-eslint/no-floating-promises": "off" },
  },
);
