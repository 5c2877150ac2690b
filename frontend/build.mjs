// `npm run build`: bundles frontend/studio/ into app/web/static/build/ (studio.js, studio.css, fonts).
// One command, no webpack: the bpmnlint config is packed by bpmnlint-pack-config (rollup inside)
// and handed to esbuild as a virtual module, so nothing generated lands in the source tree.
import { build } from "esbuild";
import { createRequire } from "node:module";
import { mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const require = createRequire(import.meta.url);
const { packConfig } = require("bpmnlint-pack-config");

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(here, "..", "app", "web", "static", "build");
const started = performance.now();

/** `import lintConfig from "pmo:bpmnlint-config"` resolves to the packed .bpmnlintrc. */
const bpmnlintConfig = {
  name: "bpmnlint-config",
  setup(b) {
    b.onResolve({ filter: /^pmo:bpmnlint-config$/ }, () => ({ path: "bpmnlint-config", namespace: "pmo" }));
    b.onLoad({ filter: /.*/, namespace: "pmo" }, async () => {
      const { code } = await packConfig(join(here, ".bpmnlintrc"), "es");
      return { contents: code, loader: "js", resolveDir: here };
    });
  },
};

// The page's Content-Security-Policy has style-src 'self': a style="" attribute in markup a library
// parses is refused (and logged), and so is a <style> element it adds. These are the ones the
// studio's libraries write: each attribute becomes a class styled in pmo.css, and CodeMirror's
// style-mod (dmn-js's FEEL cell editor) uses a constructed stylesheet (adoptedStyleSheets, which
// the CSP allows) instead of a <style> tag. A library update that changes one fails the build
// here, loudly.
const PANEL = /bpmn-js-properties-panel[\\/]dist[\\/]index\.esm\.js$/;
const DMN_LOGO = /dmn-js-shared[\\/]lib[\\/]util[\\/]PoweredByUtil\.js$/;
const STYLE_MOD = /style-mod[\\/]src[\\/]style-mod\.js$/;
const CSP_MARKUP = [
  { file: STYLE_MOD, from: "if (!root.head && root.adoptedStyleSheets && win.CSSStyleSheet) {",
    to: "if (root.adoptedStyleSheets && win.CSSStyleSheet) {" },
  { file: PANEL,
    from: '<div style="height: 100%" tabindex="-1" class="bio-properties-panel-container">',
    to: '<div tabindex="-1" class="bio-properties-panel-container pmo-csp-panel-container">' },
  { file: PANEL,
    from: '<div style="flex: none; height: auto" class="bio-properties-panel bio-theme-parent bio-properties-panel-header-container">',
    to: '<div class="bio-properties-panel bio-theme-parent bio-properties-panel-header-container pmo-csp-panel-header">' },
  // dmn-js's bpmn.io logo (which its licence requires to stay visible): same place, set by pmo.css.
  { file: DMN_LOGO, from: 'style="vertical-align:middle"', to: 'class="pmo-csp-logo-image"' },
  { file: DMN_LOGO, from: "'style=\"position: absolute; bottom: 15px; right: 15px; z-index: 100;\">'",
    to: "'>'" },
];

const cspSafeMarkup = {
  name: "csp-safe-markup",
  setup(b) {
    const files = [...new Set(CSP_MARKUP.map((r) => r.file))];
    for (const file of files) {
      b.onLoad({ filter: file }, (args) => {
        let contents = readFileSync(args.path, "utf8");
        for (const rule of CSP_MARKUP.filter((r) => r.file === file)) {
          if (!contents.includes(rule.from)) {
            throw new Error(`${args.path} no longer contains ${rule.from}: check its inline styles (CSP_MARKUP)`);
          }
          contents = contents.split(rule.from).join(rule.to);
        }
        return { contents, loader: "js", resolveDir: dirname(args.path) };
      });
    }
  },
};

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

await build({
  // index.js imports studio.css, so esbuild writes studio.css beside studio.js.
  entryPoints: { studio: join(here, "studio", "index.js") },
  outdir,
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "iife",
  globalName: "PmoStudio",
  target: ["es2020"],
  legalComments: "linked",
  loader: { ".woff": "file", ".woff2": "file", ".ttf": "file", ".eot": "file", ".svg": "file" },
  assetNames: "assets/[name]-[hash]",
  plugins: [bpmnlintConfig, cspSafeMarkup],
  logLevel: "warning",
});

const seconds = ((performance.now() - started) / 1000).toFixed(2);
const sizes = ["studio.js", "studio.css"].map((name) => {
  const body = readFileSync(join(outdir, name));
  return `${name} ${(statSync(join(outdir, name)).size / 1024).toFixed(0)} KB (gzip ${(gzipSync(body).length / 1024).toFixed(0)} KB)`;
});
console.log(`studio bundle built in ${seconds} s: ${sizes.join(", ")}`);
