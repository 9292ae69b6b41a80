import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { packageRoot } from '../../lib/package-root.js';
import { ApiError, NoRouteError } from '../errors.js';
import type { App } from '../types.js';
import { FAVICON_SVG } from './favicon.js';

/** Where the console lives, beside the API (outside `/client/v4`, so it can never collide with it). */
export const CONSOLE_PATH = '/console';

/** The built console, `dist/console` at the package root. */
export const CONSOLE_DIST = join(packageRoot(import.meta.url), 'dist', 'console');

/** 503: running from source without a build, so there is no console to serve. */
export class ConsoleNotBuiltError extends ApiError {
  readonly status = 503;
  readonly code = 1503;
  constructor() {
    super('The web console is not built; run `npm run build`');
  }
}

/**
 * Self only: no inline script or style, no other origin, no framing. The console calls the API on this
 * origin with credentials it holds in the tab, so nothing else may run beside it.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
};

interface Built {
  index: Buffer;
  assets: Map<string, { body: Buffer; type: string }>;
}

function load(dir: string): Built | undefined {
  const indexPath = join(dir, 'index.html');
  if (!existsSync(indexPath)) return undefined;
  const assets = new Map<string, { body: Buffer; type: string }>();
  const assetDir = join(dir, 'assets');
  for (const name of existsSync(assetDir) ? readdirSync(assetDir) : []) {
    const type = TYPES[extname(name)];
    if (type) assets.set(name, { body: readFileSync(join(assetDir, name)), type });
  }
  return { index: readFileSync(indexPath), assets };
}

/**
 * Serves the console: `/console` and every deep link under it answer `index.html` (the client routes),
 * `/console/assets/<file>` the bundle. Files are read once, on the first request that finds them, so a
 * server started before `npm run build` begins serving once the build exists.
 */
export async function mountConsole(app: App, dir: string = CONSOLE_DIST): Promise<void> {
  let built: Built | undefined;
  const current = (): Built => {
    built ??= load(dir);
    if (!built) throw new ConsoleNotBuiltError();
    return built;
  };
  const page = async (_req: FastifyRequest, reply: FastifyReply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(current().index);
  const icon = async (_req: FastifyRequest, reply: FastifyReply) =>
    reply.type('image/svg+xml').header('cache-control', 'public, max-age=86400').send(FAVICON_SVG);
  app.get('/favicon.ico', icon);

  await app.register(
    async (site) => {
      // Encapsulated: these headers go on console answers only (errors included), never on the API's.
      site.addHook('onSend', async (_req, reply) => {
        reply.header('content-security-policy', CONSOLE_CSP);
        reply.header('x-content-type-options', 'nosniff');
        reply.header('referrer-policy', 'no-referrer');
      });
      site.get('/', page);
      site.get('/*', page);
      site.get('/favicon.svg', icon);
      site.get<{ Params: { file: string } }>('/assets/:file', async (req, reply) => {
        const asset = current().assets.get(req.params.file);
        if (!asset) throw new NoRouteError();
        // Asset names carry a content hash (scripts/bundle.ts), so a name never changes meaning.
        return reply
          .type(asset.type)
          .header('cache-control', 'public, max-age=31536000, immutable')
          .send(asset.body);
      });
    },
    { prefix: CONSOLE_PATH },
  );
}
