// Bundles the extension into one file so the .vsix ships no node_modules folder, and each
// webview's front end (media/<panel>/) into media/dist/<panel>.js and .css: webviews load only
// local files, so Vega, Vega-Lite and @vscode-elements travel inside that bundle.
import * as esbuild from "esbuild";

const watch = process.argv.includes("--watch");
const extension = {
  entryPoints: ["extension/src/extension.ts"],
  bundle: true,
  outfile: "dist/extension.js",
  external: ["vscode"],
  format: "cjs",
  platform: "node",
  target: "node20",
  sourcemap: true,
  minify: !watch,
  logLevel: "warning",
};

const webviews = {
  entryPoints: [
    { in: "media/liveMetrics/main.ts", out: "liveMetrics" },
    { in: "media/liveMetrics/styles.css", out: "liveMetrics" },
    { in: "media/compare/main.ts", out: "compare" },
    { in: "media/compare/styles.css", out: "compare" },
    { in: "media/report/main.ts", out: "report" },
    // Vega and vega-embed, loaded by the report page after its first paint.
    { in: "media/report/charts.ts", out: "reportCharts" },
    { in: "media/report/styles.css", out: "report" },
  ],
  bundle: true,
  outdir: "media/dist",
  format: "iife",
  platform: "browser",
  // The Chromium inside VS Code ^1.138 is far newer than this.
  target: "chrome120",
  // Linked source maps only while developing: the .vsix ships media/dist whole.
  sourcemap: watch,
  minify: !watch,
  legalComments: "linked",
  logLevel: "warning",
};

if (watch) {
  const contexts = await Promise.all([esbuild.context(extension), esbuild.context(webviews)]);
  await Promise.all(contexts.map((context) => context.watch()));
} else {
  await Promise.all([esbuild.build(extension), esbuild.build(webviews)]);
}
