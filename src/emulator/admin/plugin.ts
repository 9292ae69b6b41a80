import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { ForbiddenError } from '../../http/errors.js';
import { ADMIN_PREFIX } from '../../http/paths.js';
import type { App } from '../../http/types.js';
import { digestsEqual, hashSecret } from '../../lib/secrets.js';

export interface AdminMount {
  /** The admin token; every admin call must present it as `Authorization: Bearer <token>`. */
  token: string;
  /** Registers the admin routes (paths relative to `/_rshare`). */
  routes: (app: App) => void;
}

function bearer(req: FastifyRequest): string | undefined {
  const value = req.headers.authorization;
  const match = typeof value === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(value) : null;
  return match?.[1];
}

/**
 * Mounts the admin routes behind the admin token. The token is compared as a digest in constant time;
 * a missing or wrong one gets Cloudflare's authentication error, never a hint of which it was.
 */
export async function mountAdmin(app: App, mount: AdminMount): Promise<void> {
  const digest = hashSecret(mount.token);
  await app.register(
    async (admin) => {
      admin.addHook('onRequest', async (req) => {
        const given = bearer(req);
        if (given === undefined || !digestsEqual(hashSecret(given), digest)) throw new ForbiddenError();
      });
      mount.routes(admin.withTypeProvider<TypeBoxTypeProvider>());
    },
    { prefix: ADMIN_PREFIX },
  );
}
