import type { TenancyService } from './service.js';
import type { TenancyStore } from './store.js';

export interface DemoSeed {
  organizationId: string;
  ownerAccountId: string;
  recipientAccountIds: [string, string, string];
  userEmail: string;
  /** Global API key for `X-Auth-Email` / `X-Auth-Key`. */
  apiKey: string;
  tokenId: string;
  /** API token for `Authorization: Bearer`. */
  token: string;
}

export const DEMO_EMAIL = 'demo@rshare.test';

/**
 * Seeds a ready-to-try tenancy into an empty store: one organization, an owner account, three recipient
 * accounts, a user with a global key and a read+edit token. Returns undefined when the store already has
 * organizations, so a restarted demo server keeps its data and never mints fresh secrets.
 */
export async function seedDemo(service: TenancyService, store: TenancyStore): Promise<DemoSeed | undefined> {
  if ((await store.listOrganizations()).length > 0) return undefined;
  const org = await service.createOrganization({ name: 'Demo Org' });
  const owner = await service.createAccount({ name: 'Demo Owner', organization_id: org.id });
  const recipient = async (n: number) =>
    (await service.createAccount({ name: `Demo Recipient ${n}`, organization_id: org.id })).id;
  const recipientAccountIds: DemoSeed['recipientAccountIds'] = [
    await recipient(1),
    await recipient(2),
    await recipient(3),
  ];
  const accounts = [owner.id, ...recipientAccountIds];
  const { apiKey } = await service.createUser({ email: DEMO_EMAIL, accounts, organizations: [org.id] });
  const { token, value } = await service.createToken({
    name: 'demo',
    accounts,
    organizations: [org.id],
    permissions: ['read', 'edit'],
  });
  return {
    organizationId: org.id,
    ownerAccountId: owner.id,
    recipientAccountIds,
    userEmail: DEMO_EMAIL,
    apiKey,
    tokenId: token.id,
    token: value,
  };
}

/**
 * Console banner for a fresh demo. `baseUrl` is the server origin (`http://127.0.0.1:8787`) or the API root
 * (`http://127.0.0.1:8787/client/v4`); the curl example always targets the API root.
 */
/** The admin API's root for a server origin or API root. */
function adminUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/client\/v4$/, '')}/_rshare`;
}

/** The line printed for a restarted demo server, whose other secrets were printed when it was created. */
export function formatAdminTokenLine(adminToken: string, baseUrl: string): string {
  return `rshare admin token (this run only): ${adminToken}  (${adminUrl(baseUrl.replace(/\/+$/, ''))})`;
}

export function formatDemoBanner(
  seed: DemoSeed,
  baseUrl: string,
  adminToken?: string,
  consoleUrl?: string,
): string {
  const trimmed = baseUrl.replace(/\/+$/, '');
  const apiRoot = trimmed.endsWith('/client/v4') ? trimmed : `${trimmed}/client/v4`;
  const body = JSON.stringify({
    name: 'My Shared WAF Managed Rule',
    recipients: [{ recipient_account_id: seed.recipientAccountIds[0] }],
    resources: [
      {
        meta: {},
        resource_account_id: seed.ownerAccountId,
        resource_id: '023e105f4ecef8ad9ca31a8372d0c353',
        resource_type: 'custom-ruleset',
      },
    ],
  });
  const [r1, r2, r3] = seed.recipientAccountIds;
  return [
    'rshare demo tenancy created (secrets are shown only now):',
    `  organization        ${seed.organizationId}  Demo Org`,
    `  owner account       ${seed.ownerAccountId}  Demo Owner`,
    `  recipient accounts  ${r1}  Demo Recipient 1`,
    `                      ${r2}  Demo Recipient 2`,
    `                      ${r3}  Demo Recipient 3`,
    `  API token           ${seed.token}`,
    `  user                ${seed.userEmail}`,
    `  global API key      ${seed.apiKey}`,
    ...(adminToken === undefined
      ? []
      : [`  admin token         ${adminToken}  (${adminUrl(trimmed)}; this run only)`]),
    ...(consoleUrl === undefined
      ? []
      : [`  web console         ${consoleUrl}  (sign in with the API token)`]),
    `  API docs            ${apiRoot.slice(0, -'/client/v4'.length)}/docs  (OpenAPI document: ${apiRoot}/openapi.json)`,
    '',
    'Create a share:',
    `  BASE=${apiRoot}`,
    `  curl -sS -X POST "$BASE/accounts/${seed.ownerAccountId}/shares" -H "Authorization: Bearer ${seed.token}" ` +
      `-H "Content-Type: application/json" -d '${body}'`,
  ].join('\n');
}
