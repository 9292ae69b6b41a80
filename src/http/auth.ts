import type { FastifyRequest } from 'fastify';
import type { Clock } from '../lib/clock.js';
import { digestsEqual, hashSecret } from '../lib/secrets.js';
import type { TenancyStore, TokenRow } from '../tenancy/store.js';
import {
  ForbiddenError,
  InvalidTokenError,
  MissingCredentialsError,
  NotFoundError,
  UnknownKeyError,
} from './errors.js';

/** Who is calling, and what they may touch. */
export interface Principal {
  kind: 'user' | 'token';
  id: string;
  canEdit: boolean;
  accounts: ReadonlySet<string>;
  organizations: ReadonlySet<string>;
  /** Set for API tokens, so `tokens/verify` can describe the token. */
  token?: TokenRow;
}

/**
 * What a route requires. `scope` names the path parameter checked against the caller's scope.
 * Object routes (a share or sub-object by id) answer an out-of-scope account exactly as an unknown id,
 * so nothing tells a stranger whether another account's object exists.
 */
export interface Access {
  scope: 'account' | 'organization' | 'none';
  write: boolean;
  object?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    principal: Principal;
  }
}

export const OBJECT_NOT_FOUND = 'Share not found';

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export class Authenticator {
  constructor(
    private readonly tenancy: TenancyStore,
    private readonly clock: Clock,
  ) {}

  async authenticate(req: FastifyRequest): Promise<Principal> {
    const authorization = header(req, 'authorization');
    if (authorization !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!match?.[1]) throw new InvalidTokenError();
      return this.fromToken(match[1]);
    }
    const email = header(req, 'x-auth-email');
    const key = header(req, 'x-auth-key');
    if (email === undefined && key === undefined) throw new MissingCredentialsError();
    if (!email || !key) throw new UnknownKeyError();
    const user = await this.tenancy.findUserByEmail(email.trim().toLowerCase());
    // Compare against a dummy digest when the email is unknown so timing does not reveal which part failed.
    const expected = user?.api_key_hash ?? hashSecret('');
    if (!digestsEqual(hashSecret(key), expected) || !user) throw new UnknownKeyError();
    return {
      kind: 'user',
      id: user.id,
      canEdit: true,
      accounts: new Set(user.accounts),
      organizations: new Set(user.organizations),
    };
  }

  private async fromToken(value: string): Promise<Principal> {
    const digest = hashSecret(value);
    const token = await this.tenancy.findTokenByHash(digest);
    if (!token || !digestsEqual(digest, token.secret_hash) || !this.usable(token))
      throw new InvalidTokenError();
    return {
      kind: 'token',
      id: token.id,
      canEdit: token.can_edit,
      accounts: new Set(token.accounts),
      organizations: new Set(token.organizations),
      token,
    };
  }

  private usable(token: TokenRow): boolean {
    if (token.status !== 'active') return false;
    return token.expires_on === null || Date.parse(token.expires_on) > this.clock.now();
  }

  /** Enforces a route's `Access` for an authenticated principal. */
  authorize(principal: Principal, access: Access, params: Record<string, string | undefined>): void {
    if (access.scope === 'account') {
      const id = params.account_id ?? '';
      if (!principal.accounts.has(id)) {
        if (access.object) throw new NotFoundError(OBJECT_NOT_FOUND);
        throw new ForbiddenError();
      }
    } else if (access.scope === 'organization') {
      if (!principal.organizations.has(params.organization_id ?? '')) throw new ForbiddenError();
    }
    if (access.write && !principal.canEdit) throw new ForbiddenError();
  }
}
