import type { FastifyRequest } from 'fastify';
import type { Clock } from '../../lib/clock.js';
import { isId } from '../../lib/ids.js';
import { digestsEqual, hashSecret } from '../../lib/secrets.js';
import type { AccountRow, ScopeTarget, TenancyStore, TokenCredential } from './store.js';
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

export class Authenticator {
  constructor(
    private readonly tenancy: TenancyStore,
    private readonly clock: Clock,
  ) {}

  /**
   * Authenticates the caller and, in the same query, checks the route's account or organization against
   * its scope. No cache: a token disabled, expired or re-scoped anywhere stops working on the next request.
   */
  async authenticate(
    req: FastifyRequest,
    access: Access,
    params: Record<string, string | undefined>,
  ): Promise<Principal> {
    const target = scopeTarget(access, params);
    const presented = presentedCredential(req.headers);
    if (presented.kind === 'token') return this.fromToken(presented.value, target, access);
    const { email, key } = presented;
    const user = await this.tenancy.findUserCredential(email.trim().toLowerCase(), target);
    // Compare against a dummy digest when the email is unknown so timing does not reveal which part failed.
    const expected = user?.api_key_hash ?? hashSecret('');
    if (!digestsEqual(hashSecret(key), expected) || !user) throw new UnknownKeyError();
    return {
      kind: 'user',
      id: user.id,
      canEdit: true,
      inScope: user.in_scope,
      ...(user.in_scope && user.account ? { account: user.account } : {}),
      email: user.email,
    };
  }

  private async fromToken(value: string, target: ScopeTarget, access: Access): Promise<Principal> {
    const digest = hashSecret(value);
    const token = await this.tenancy.findTokenCredential(digest, target);
    if (!token || !digestsEqual(digest, token.secret_hash) || !this.usable(token))
      throw new InvalidTokenError(access.invalidTokenStatus);
    return {
      kind: 'token',
      id: token.id,
      canEdit: token.can_edit,
      inScope: token.in_scope,
      ...(token.in_scope && token.account ? { account: token.account } : {}),
      token,
    };
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
