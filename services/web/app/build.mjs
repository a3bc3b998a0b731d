// Builds the single-page app into dist/:
//   index.html, favicon.svg                 fetched anew (vigil-web: Cache-Control: no-cache)
//   assets/app-HASH.js, assets/app-HASH.css  named by their content (vigil-web: cached for a
//   assets/*-HASH.js (chunks: chart.js)      year, immutable), each with .br and .gz beside it
// index.html names the hashed files, so a new build is a new name and never a stale cache.
// Everything is self-hosted: vigil-web serves dist/ under CSP default-src 'self'.
//   node build.mjs           one build (minified, precompressed)
//   node build.mjs --watch   rebuild on change (not compressed)
import * as esbuild from 'esbuild';
import { copyFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');
const dist = join(here, 'dist');
const assets = join(dist, 'assets');
const watch = process.argv.includes('--watch');

await rm(dist, { recursive: true, force: true });
await mkdir(assets, { recursive: true });
await copyFile(join(src, 'favicon.svg'), join(dist, 'favicon.svg'));

const common = {
  outdir: dist,
  bundle: true,
  minify: !watch,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'info',
  entryNames: 'assets/[name]-[hash]',
  metafile: true,
};
const builds = [
  {
    ...common,
    entryPoints: { app: join(src, 'main.jsx') },
    format: 'esm',
    // chart.js (most of the code) loads only when a trend chart is drawn.
    splitting: true,
    chunkNames: 'assets/[name]-[hash]',
    // es2022: class fields as written (an es2020 helper would be a chunk app.js waits for).
    target: ['es2022'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    define: { 'process.env.NODE_ENV': JSON.stringify(watch ? 'development' : 'production') },
  },
  { ...common, entryPoints: { app: join(src, 'app.css') } },
];

// index.html with the hashed names of the entry points' outputs.
async function writeIndex(results) {
  const entry = (ext) => {
    for (const result of results) {
      for (const [file, output] of Object.entries(result.metafile.outputs)) {
        if (output.entryPoint && file.endsWith(ext)) return relative(dist, join(here, file));
      }
    }
    throw new Error(`no ${ext} entry point built`);
  };
  const html = (await readFile(join(src, 'index.html'), 'utf8'))
    .replace('href="app.css"', `href="${entry('.css')}"`)
    .replace('src="app.js"', `src="${entry('.js')}"`);
  await writeFile(join(dist, 'index.html'), html);
}

// Brotli (best) and gzip (best) beside each asset: vigil-web sends the one the browser accepts
// without compressing anything per request.
async function precompress() {
  const brotli = promisify(brotliCompress);
  const gz = promisify(gzip);
  for (const name of await readdir(assets)) {
    const file = join(assets, name);
    const data = await readFile(file);
    await writeFile(`${file}.br`, await brotli(data, {
      params: { [zlib.BROTLI_PARAM_QUALITY]: zlib.BROTLI_MAX_QUALITY, [zlib.BROTLI_PARAM_SIZE_HINT]: data.length },
    }));
    await writeFile(`${file}.gz`, await gz(data, { level: 9 }));
    console.log(`  ${basename(file)}: ${data.length} B, brotli ${(await readFile(`${file}.br`)).length} B`);
  }
}

if (watch) {
  // The entry points' names change with their content: index.html is written after each build.
  const latest = builds.map(() => null);
  const plugin = (i) => ({
    name: 'index-html',
    setup(build) {
      build.onEnd(async (result) => {
        latest[i] = result;
        if (latest.every(Boolean) && result.errors.length === 0) await writeIndex(latest);
      });
    },
  });
  for (const [i, options] of builds.entries()) {
    await (await esbuild.context({ ...options, plugins: [plugin(i)] })).watch();
  }
} else {
  await writeIndex(await Promise.all(builds.map((options) => esbuild.build(options))));
  await precompress();
}
