import type { FastifyRequest } from 'fastify';
import type { Clock } from '../../lib/clock.js';
import { isId } from '../../lib/ids.js';
import { digestsEqual, hashSecret } from '../../lib/secrets.js';
import type { AccountRow, ScopeTarget, TenancyStore, TokenCredential } from './store.js';
import { CredentialCache, type ReadStart } from './credential-cache.js';
import { presentedCredential } from '../../http/credential-headers.js';
import { ForbiddenError, InvalidTokenError, NotFoundError, UnknownKeyError } from '../../http/errors.js';

/**
 * Who is calling, and whether they may touch the one account or organization the route names. The
 * caller's whole scope is never loaded: a request costs the same whatever the size of its tenancy.
 */
export interface Principal {
  kind: 'user' | 'token';
  id: string;
  canEdit: boolean;
  /** The route's account or organization is in the caller's scope (false when the route names none). */
  inScope: boolean;
  /** The route's account, when it is in scope: read with the credential, so no service reads it again. */
  account?: AccountRow;
  /** Set for API tokens, so `tokens/verify` can describe the token. */
  token?: TokenCredential;
  /** Set for users (email + global key), for the audit log. */
  email?: string;
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
  /** The status of an unknown, disabled or expired token (401 on `tokens/verify`, as Cloudflare). */
  invalidTokenStatus?: 401;
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

export interface AuthenticatorOptions {
  /** How long a successful credential answer is reused, in clock ms (0: never; default 500, at most 1000). */
  cacheMs?: number;
  /** Bytes the credential cache may hold (default 8 MiB). */
  cacheBytes?: number;
}

export class Authenticator {
  private readonly cache: CredentialCache<Principal>;

  constructor(
    private readonly tenancy: TenancyStore,
    private readonly clock: Clock,
    options: AuthenticatorOptions = {},
  ) {
    this.cache = new CredentialCache(clock, options.cacheMs, options.cacheBytes);
  }

  /**
   * Authenticates the caller and, in the same query, checks the route's account or organization against
   * its scope. A successful answer is reused for the same credential and target for at most the cache's
   * time bound, and never after a tenancy write in this process (./credential-cache.ts): a token disabled
   * or re-scoped here stops working on the next request, and on another node within the bound. Expiry is
   * checked against the clock on every request, cached or not.
   */
  async authenticate(
    req: FastifyRequest,
    access: Access,
    params: Record<string, string | undefined>,
  ): Promise<Principal> {
    const target = scopeTarget(access, params);
    const presented = presentedCredential(req.headers);
    if (presented.kind === 'token') return this.fromToken(presented.value, target, access);
    const email = presented.email.trim().toLowerCase();
    const digest = hashSecret(presented.key);
    const key = `user\0${email}\0${digest}\0${targetKey(target)}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const read = this.cache.startRead();
    const user = await this.tenancy.findUserCredential(email, target);
    // Compare against a dummy digest when the email is unknown so timing does not reveal which part failed.
    const expected = user?.api_key_hash ?? hashSecret('');
    if (!digestsEqual(digest, expected) || !user) throw new UnknownKeyError();
    return this.remember(key, target, read, {
      kind: 'user',
      id: user.id,
      canEdit: true,
      inScope: user.in_scope,
      ...(user.in_scope && user.account ? { account: user.account } : {}),
      email: user.email,
    });
  }

  private async fromToken(value: string, target: ScopeTarget, access: Access): Promise<Principal> {
    const digest = hashSecret(value);
    const key = `token\0${digest}\0${targetKey(target)}`;
    const cached = this.cache.get(key);
    if (cached?.token && this.usable(cached.token)) return cached;
    // Expired by the clock since it was cached: the store may hold a later expiry set on another node.
    if (cached) this.cache.delete(key);
    const read = this.cache.startRead();
    const token = await this.tenancy.findTokenCredential(digest, target);
    if (!token || !digestsEqual(digest, token.secret_hash) || !this.usable(token))
      throw new InvalidTokenError(access.invalidTokenStatus);
    return this.remember(key, target, read, {
      kind: 'token',
      id: token.id,
      canEdit: token.can_edit,
      inScope: token.in_scope,
      ...(token.in_scope && token.account ? { account: token.account } : {}),
      token,
    });
  }

  /**
   * Keeps a successful answer: in scope, or for a route that names no target. One out of scope is
   * refused by `authorize`, and a refusal is never kept (a scope granted anywhere works at once).
   * Frozen, since every later request of this caller shares it.
   */
  private remember(key: string, target: ScopeTarget, read: ReadStart, principal: Principal): Principal {
    if (target !== null && !principal.inScope) return principal;
    if (principal.account) Object.freeze(principal.account);
    if (principal.token) Object.freeze(principal.token);
    this.cache.set(key, Object.freeze(principal), read);
    return principal;
  }

  private usable(token: TokenCredential): boolean {
    if (token.status !== 'active') return false;
    return token.expires_on === null || Date.parse(token.expires_on) > this.clock.now();
  }

  /** Enforces a route's `Access` for a principal authenticated against the same route. */
  authorize(principal: Principal, access: Access): void {
    if (access.scope === 'account') {
      if (!principal.inScope) {
        if (access.object) throw new NotFoundError(OBJECT_NOT_FOUND);
        throw new ForbiddenError();
      }
    } else if (access.scope === 'organization') {
      if (!principal.inScope) throw new ForbiddenError();
    }
    if (access.write && !principal.canEdit) throw new ForbiddenError();
  }
}

/**
 * The account an account-scoped route names, as authentication read it. Only for routes whose `access`
 * is account-scoped: authorization has already refused a request whose account is not in scope.
 */
export function routeAccount(req: FastifyRequest): AccountRow {
  const { account } = req.principal;
  if (!account) throw new ForbiddenError();
  return account;
}

/** The one id a route's scope check needs; a malformed id is in no scope, so the store is not asked. */
function scopeTarget(access: Access, params: Record<string, string | undefined>): ScopeTarget {
  if (access.scope === 'account') {
    const id = params.account_id ?? '';
    return isId(id) ? { account: id } : null;
  }
  if (access.scope === 'organization') {
    const id = params.organization_id ?? '';
    return isId(id) ? { organization: id } : null;
  }
  return null;
}

/** The cache key's part for the route's target: the credential's answer differs with it. */
function targetKey(target: ScopeTarget): string {
  if (target === null) return '-';
  return 'account' in target ? `a:${target.account}` : `o:${target.organization}`;
}
