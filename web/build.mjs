// The production build of the web app: `node build.mjs` (npm run build) writes web/dist/.
//
//   dist/index.html            the one HTML page (no inline script or style: strict CSP)
//   dist/assets/*-<hash>.*     content-hashed entry, chunks, CSS and images (cached for good)
//   dist/**/*.gz, *.br         precompressed copies the web service picks by Accept-Encoding
//   dist/manifest.json         what was built: entry, CSS, every file with its sizes
//
// ESM with code splitting: each area (web/src/trading, web/src/auction) and the API docs are
// dynamic imports, so their code (the chart library, Swagger UI) loads only on their screens.
// Type checking is separate and not needed to build: `npm run check` (tsc --noEmit).
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import zlib from "node:zlib";
import * as esbuild from "esbuild";

const ROOT = path.dirname(fileURLToPath(import.meta.url));
// The output (WEB_BUILD_OUT, else web/dist) is built aside and swapped in at the end, so a
// server reading it (or another build) never sees it half written or missing for long.
const FINAL = path.resolve(process.env.WEB_BUILD_OUT ?? path.join(ROOT, "dist"));
const DIST = `${FINAL}.tmp-${process.pid}`;
const ASSETS = path.join(DIST, "assets");
const PUBLIC_PREFIX = "/assets/";
// The stylesheets, by the name their hashed file gets.
const CSS_ENTRIES = { app: "src/styles.css", docs: "src/docs.css" };
const COMPRESSIBLE = new Set([".js", ".css", ".html", ".svg", ".json", ".txt", ".map"]);

const gzip = promisify(zlib.gzip);
const brotli = promisify(zlib.brotliCompress);

const rel = (file) => path.relative(DIST, file).split(path.sep).join("/");
const url = (file) => "/" + rel(file);

async function hashedCopy(source, stem) {
  const data = await fs.readFile(source);
  const hash = createHash("sha256").update(data).digest("hex").slice(0, 10);
  const target = path.join(ASSETS, `${stem}-${hash}${path.extname(source)}`);
  await fs.writeFile(target, data);
  return target;
}

async function buildCss() {
  // Stylesheets are entries of their own: the app's (every area's CSS @imported by
  // src/styles.css) and the API docs' (Swagger UI's), loaded only by the docs screen.
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: CSS_ENTRIES,
    bundle: true,
    minify: true,
    outdir: ASSETS,
    entryNames: "[name]-[hash]",
    assetNames: "[name]-[hash]",
    loader: { ".svg": "file", ".png": "file", ".woff2": "file" },
    metafile: true,
    logLevel: "warning",
  });
  const names = Object.fromEntries(Object.entries(CSS_ENTRIES).map(([k, v]) => [v, k]));
  const css = {};
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    if (meta.entryPoint && out.endsWith(".css")) {
      css[names[meta.entryPoint]] = url(path.join(ROOT, out));
    }
  }
  if (!css.app || !css.docs) throw new Error(`stylesheets missing: ${JSON.stringify(css)}`);
  return css;
}

async function buildJs(css) {
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { main: "src/main.ts" },
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "browser",
    target: ["es2022", "chrome110", "firefox115", "safari16"],
    minify: true,
    outdir: ASSETS,
    entryNames: "[name]-[hash]",
    chunkNames: "chunks/[name]-[hash]",
    assetNames: "[name]-[hash]",
    // The docs screen learns its stylesheet's hashed name here (it links it on demand).
    define: { __DOCS_CSS__: JSON.stringify(css.docs), "process.env.NODE_ENV": '"production"' },
    legalComments: "linked",
    metafile: true,
    logLevel: "warning",
  });
  let entry = null;
  const preload = [];
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    if (meta.entryPoint === "src/main.ts") {
      entry = url(path.join(ROOT, out));
      // The chunks main.ts imports statically: preloaded by the page, not discovered late.
      for (const imp of meta.imports) {
        if (imp.kind === "import-statement") preload.push(url(path.join(ROOT, imp.path)));
      }
    }
  }
  if (!entry) throw new Error("esbuild produced no output for src/main.ts");
  return { entry, preload, metafile: result.metafile };
}

async function writeHtml({ entry, preload }, css, favicon) {
  let html = await fs.readFile(path.join(ROOT, "index.html"), "utf8");
  const head = [
    `<link rel="icon" type="image/svg+xml" href="${favicon}">`,
    `<link rel="stylesheet" href="${css.app}">`,
    ...preload.map((href) => `<link rel="modulepreload" href="${href}">`),
    `<script type="module" src="${entry}"></script>`,
  ].join("\n    ");
  if (!html.includes("<!-- build:head -->")) throw new Error("index.html lacks <!-- build:head -->");
  html = html.replace("<!-- build:head -->", head);
  await fs.writeFile(path.join(DIST, "index.html"), html);
}

async function* walk(dir) {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else yield full;
  }
}

async function compressAll() {
  const files = {};
  for await (const file of walk(DIST)) {
    const data = await fs.readFile(file);
    const info = { bytes: data.length };
    if (COMPRESSIBLE.has(path.extname(file)) && data.length >= 256) {
      const [gz, br] = await Promise.all([
        gzip(data, { level: 9 }),
        brotli(data, {
          params: {
            // 11 (the smallest) takes seconds per MB: 9 for the large, docs-only Swagger UI
            // chunk (16 s -> 1.3 s to build, 9 % larger), 11 for the app's own files.
            [zlib.constants.BROTLI_PARAM_QUALITY]: data.length > 256 * 1024 ? 9 : 11,
            [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
          },
        }),
      ]);
      // A compressed copy only when it is smaller (tiny files can grow).
      if (gz.length < data.length) {
        await fs.writeFile(file + ".gz", gz);
        info.gzip = gz.length;
      }
      if (br.length < data.length) {
        await fs.writeFile(file + ".br", br);
        info.br = br.length;
      }
    }
    files[rel(file)] = info;
  }
  return files;
}

// The previous build's hashed files the new one lacks are kept (one generation: those its
// manifest lists), so a page loaded before a rebuild still finds the chunks it imports later.
async function carryOver() {
  let previous;
  try {
    previous = JSON.parse(await fs.readFile(path.join(FINAL, "manifest.json"), "utf8"));
  } catch {
    return 0;
  }
  let copied = 0;
  for (const name of Object.keys(previous.files ?? {})) {
    if (!name.startsWith("assets/")) continue;
    for (const suffix of ["", ".gz", ".br"]) {
      const target = path.join(DIST, name + suffix);
      try {
        await fs.access(target);
        continue;
      } catch {}
      try {
        await fs.mkdir(path.dirname(target), { recursive: true });
        await fs.copyFile(path.join(FINAL, name + suffix), target);
        copied++;
      } catch {}
    }
  }
  return copied;
}

async function swapIn() {
  const old = `${FINAL}.old-${process.pid}`;
  let hadOld = true;
  try {
    await fs.rename(FINAL, old);
  } catch {
    hadOld = false;
  }
  await fs.rename(DIST, FINAL);
  if (hadOld) await fs.rm(old, { recursive: true, force: true });
}

async function main() {
  const started = Date.now();
  await fs.rm(DIST, { recursive: true, force: true });
  await fs.mkdir(ASSETS, { recursive: true });
  const css = await buildCss();
  const js = await buildJs(css);
  const favicon = url(await hashedCopy(path.join(ROOT, "public", "favicon.svg"), "favicon"));
  await writeHtml(js, css, favicon);
  const files = await compressAll();
  const chunks = {};
  for (const [out, meta] of Object.entries(js.metafile.outputs)) {
    if (!out.endsWith(".js")) continue;
    chunks[url(path.join(ROOT, out))] = {
      imports: meta.imports.map((i) => ({ path: url(path.join(ROOT, i.path)), kind: i.kind })),
      inputs: Object.keys(meta.inputs).filter((i) => !i.startsWith("node_modules/")).sort(),
      // The npm packages bundled into it (tests check the chart library stays off other screens).
      packages: [
        ...new Set(
          Object.keys(meta.inputs)
            .filter((i) => i.startsWith("node_modules/"))
            .map((i) => i.split("/").slice(1, i.split("/")[1].startsWith("@") ? 3 : 2).join("/")),
        ),
      ].sort(),
    };
  }
  const manifest = { entry: js.entry, preload: js.preload, css, favicon, chunks, files };
  await fs.writeFile(path.join(DIST, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  const carried = await carryOver();
  await swapIn();
  const js_br = Object.entries(files)
    .filter(([name]) => name.endsWith(".js"))
    .reduce((sum, [, f]) => sum + (f.br ?? f.bytes), 0);
  console.log(
    `web/dist built in ${Date.now() - started} ms: ${Object.keys(files).length} files, ` +
      `entry ${js.entry} (${files[js.entry.slice(1)].br ?? "?"} B br), all JS ${js_br} B br` +
      (carried ? `; ${carried} files of the previous build kept` : ""),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
