/**
 * Bundles the CLI into one file, `dist/bin/rshare.js` (the package's `bin`), run by `npm run build`.
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
  // The docs plugins load only when the docs are first asked for (src/openapi/docs-instance.ts), and
  // @fastify/swagger-ui reads Swagger UI's files from beside its own modules (through __dirname).
  external: ['better-sqlite3', 'pg', 'pg-native', '@fastify/swagger', '@fastify/swagger-ui'],
  // CommonJS dependencies call require() for Node's own modules; an ES module has none of its own.
  banner: {
    js: "import { createRequire as __rshareRequire } from 'node:module';\nconst require = __rshareRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
