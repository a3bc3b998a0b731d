// Builds the single-page app into dist/: index.html, app.js, app.css and the icon.
// Everything is self-hosted: vigil-web serves dist/ under CSP default-src 'self'.
//   node build.mjs           one build (minified)
//   node build.mjs --watch   rebuild on change
import * as esbuild from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');
const dist = join(here, 'dist');
const watch = process.argv.includes('--watch');

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
for (const file of ['index.html', 'favicon.svg']) {
  await copyFile(join(src, file), join(dist, file));
}

const common = {
  outdir: dist,
  bundle: true,
  minify: !watch,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'info',
};
const builds = [
  {
    ...common,
    entryPoints: { app: join(src, 'main.jsx') },
    format: 'esm',
    // chart.js (most of the code) loads only when a trend chart is drawn.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    target: ['es2020'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    define: { 'process.env.NODE_ENV': JSON.stringify(watch ? 'development' : 'production') },
  },
  { ...common, entryPoints: { app: join(src, 'app.css') } },
];

if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
