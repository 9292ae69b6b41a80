/**
 * Bundles the CLI into one file, `dist/bin/rshare.js` (what `npm start` and the startup bench run), run by
 * `npm run build`. It is not packed: the package's `bin` is `dist/cli.js`, since the bundle would hold every
 * dependency a second time (the tarball would grow from about 320 KB to 830 KB).
 *
 * Why: most of a cold start was Node resolving and loading some six hundred ES modules one by one
 * (TypeBox alone is hundreds); read from one file the same code starts in about 60 % of the time
 * (`npm run bench -- --startup`). Native and optional drivers stay outside: better-sqlite3 (a compiled
 * addon) and pg (loaded only for postgres:// URLs). The library entry (`dist/index.js`, for in-process
 * use) is left as tsc writes it.
 *
 * The bundle sits two folders below the package root, like `dist/db/migrations.js`, because the migration
 * loader finds `migrations/` relative to its own module: `../../migrations` from either place.
 */
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

await build({
  absWorkingDir: root,
  entryPoints: ['dist/cli.js'],
  outfile: 'dist/bin/rshare.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // The docs plugins load only when the docs are first asked for (src/http/openapi/docs-instance.ts), and
  // @fastify/swagger-ui reads Swagger UI's files from beside its own modules (through __dirname).
  external: ['better-sqlite3', 'pg', 'pg-native', '@fastify/swagger', '@fastify/swagger-ui'],
  // CommonJS dependencies call require() for Node's own modules; an ES module has none of its own.
  banner: {
    js: "import { createRequire as __rshareRequire } from 'node:module';\nconst require = __rshareRequire(import.meta.url);",
  },
  logLevel: 'warning',
});

/**
 * The web console (`console/`, preact) into `dist/console/`: `index.html` and, under `assets/`, one script
 * and one stylesheet whose names carry a content hash, so the server can let browsers cache them forever.
 * The server serves only `index.html` and `assets/` from that folder (tsc writes the server's own
 * `dist/console/plugin.js` beside them, which is never served).
 */
const consoleOut = join(root, 'dist/console');
rmSync(join(consoleOut, 'assets'), { recursive: true, force: true });
const web = await build({
  absWorkingDir: root,
  entryPoints: [
    { in: 'console/main.tsx', out: 'app' },
    { in: 'console/app.css', out: 'app' },
  ],
  outdir: 'dist/console/assets',
  entryNames: '[name]-[hash]',
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});
const outputs = Object.keys(web.metafile.outputs).map((file) => basename(file));
const script = outputs.find((f) => f.endsWith('.js'));
const style = outputs.find((f) => f.endsWith('.css'));
if (!script || !style) throw new Error(`console bundle is incomplete: ${outputs.join(', ')}`);
const template = readFileSync(join(root, 'console/index.html'), 'utf8');
mkdirSync(consoleOut, { recursive: true });
writeFileSync(
  join(consoleOut, 'index.html'),
  template.replace('%APP_JS%', script).replace('%APP_CSS%', style),
);
