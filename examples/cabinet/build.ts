import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Bundles the cabinet with esbuild into `outdir` (index.html, styles.css, app.js): everything it
 * loads is in that folder, nothing comes from a CDN.
 */
export async function buildCabinet(outdir = path.join(__dirname, 'dist')): Promise<string> {
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: [path.join(__dirname, 'src', 'main.tsx')],
    outfile: path.join(outdir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'styles.css']) copyFileSync(path.join(__dirname, file), path.join(outdir, file));
  return outdir;
}

if (require.main === module) {
  buildCabinet().then((dir) => console.log(`built ${dir}`), (error) => {
    console.error(error);
    process.exit(1);
  });
}
