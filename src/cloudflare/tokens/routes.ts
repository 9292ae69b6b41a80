import { Type } from '@sinclair/typebox';
import { AccountParams, Identifier, Single, StringEnum, Timestamp } from '../../http/common-schemas.js';
import { InvalidTokenError } from '../../http/errors.js';
import type { App } from '../../http/types.js';
import type { Principal } from '../../platform/tenancy/auth.js';

const TokenVerification = Type.Object({
  id: Identifier('Token identifier tag.'),
  status: StringEnum(['active', 'disabled', 'expired'] as const),
  expires_on: Type.Optional(Timestamp('The expiration time on or after which the token is no longer valid.')),
});

const VALID = { code: 10000, message: 'This API Token is valid and active', type: null };

function verification(principal: Principal) {
  const token = principal.token;
  if (!token) throw new InvalidTokenError();
  const result: { id: string; status: 'active'; expires_on?: string } = { id: token.id, status: 'active' };
  if (token.expires_on) result.expires_on = token.expires_on;
  return { success: true as const, errors: [], messages: [VALID], result };
}

/**
 * `tokens/verify` as Cloudflare answers it: only for API tokens, which must be valid to get here (an
 * unknown, disabled or expired one is a 401 on these routes).
 */
export function tokenRoutes(app: App): void {
  app.get('/user/tokens/verify', {
    schema: {
      operationId: 'user-api-tokens-verify-token',
      summary: 'Verify Token',
      tags: ['User API Tokens'],
      response: { 200: Single(TokenVerification) },
    },
    config: { access: { scope: 'none', write: false, invalidTokenStatus: 401 } },
    handler: async (req) => verification(req.principal),
  });
  app.get('/accounts/:account_id/tokens/verify', {
    schema: {
      operationId: 'account-api-tokens-verify-token',
      summary: 'Verify Token',
      tags: ['Account API Tokens'],
      params: AccountParams,
      response: { 200: Single(TokenVerification) },
    },
    config: { access: { scope: 'account', write: false, invalidTokenStatus: 401 } },
    handler: async (req) => verification(req.principal),
  });
}
