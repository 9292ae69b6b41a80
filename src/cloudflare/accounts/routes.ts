import { Collection } from '../../http/common-schemas.js';
import { okPage, pageOf } from '../../http/envelope.js';
import type { App } from '../../http/types.js';
import { AccountObject, ListAccountsQuery } from './schemas.js';
import type { AccountsService } from './service.js';

/**
 * Cloudflare's `GET /accounts`: the accounts in the caller's scope. Needs no account in the path, so any
 * valid credential may call it (read-only tokens included); it shows nothing beyond the caller's scope.
 */
export function accountRoutes(app: App, accounts: AccountsService): void {
  app.get('/accounts', {
    schema: {
      operationId: 'accounts-list-accounts',
      summary: 'List accounts',
      tags: ['Accounts'],
      querystring: ListAccountsQuery,
      response: { 200: Collection(AccountObject) },
    },
    config: { access: { scope: 'none', write: false } },
    handler: async (req) => {
      const page = pageOf(req.query);
      const { items, total } = await accounts.list(req.principal, req.query, page);
      return okPage(items, page, total);
    },
  });
}
