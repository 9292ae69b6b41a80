import { formatMicros, systemClock, type Clock } from '../../lib/clock.js';
import { newId, newSecret } from '../../lib/ids.js';
import { hashSecret } from '../../lib/secrets.js';
import { tokenValueProblem } from '../../platform/tenancy/inputs.js';
import { seedIds, type SeedPlan, type SeedWriter } from './store.js';
import { randomBytes } from 'node:crypto';

export interface SeedOptions {
  accounts: number;
  shares: number;
  /** Value of the API token to create; generated when omitted. */
  token?: string;
}

/** What the caller needs to use the seeded store (`--json` prints exactly this). */
export interface SeedOutput {
  organization_id: string;
  account_ids: string[];
  token: string;
}

export function seedOptionsProblem(options: SeedOptions): string | undefined {
  if (!Number.isSafeInteger(options.accounts) || options.accounts < 2)
    return `--accounts must be an integer of at least 2 (every share needs a recipient other than its owner), not ${options.accounts}`;
  if (!Number.isSafeInteger(options.shares) || options.shares < 0)
    return `--shares must be a non-negative integer, not ${options.shares}`;
  if (options.token !== undefined) {
    if (options.token.trim() === '') return '--token must not be empty';
    const problem = tokenValueProblem(options.token);
    if (problem) return `--token ${problem}`;
  }
  return undefined;
}

/**
 * Lays the seed out in time so it ends just before `clock.now()`: the organization, then its accounts and
 * the token a microsecond apart, then one share per millisecond. Anything created through the API after
 * the seed sorts after every seeded row.
 */
export function planSeed(
  options: SeedOptions,
  clock: Clock = systemClock,
): { plan: SeedPlan; token: string } {
  const problem = seedOptionsProblem(options);
  if (problem) throw new Error(problem);
  const nonce = randomBytes(8).toString('hex');
  const token = options.token ?? newSecret();
  const n = options.accounts;
  const firstShareMs = clock.now() - options.shares - 1;
  const start = firstShareMs * 1000 - (n + 2);
  const width = Math.max(4, String(n).length);
  const accountId = seedIds(nonce, 'account');
  const plan: SeedPlan = {
    nonce,
    organization: { id: seedIds(nonce, 'organization')(0), name: 'Seed Org', created: formatMicros(start) },
    accounts: Array.from({ length: n }, (_, j) => ({
      id: accountId(j),
      name: `seed account ${String(j + 1).padStart(width, '0')}`,
      created: formatMicros(start + 1 + j),
    })),
    token: {
      id: newId(),
      name: 'seed',
      secret_hash: hashSecret(token),
      created: formatMicros(start + n + 1),
    },
    shares: options.shares,
    firstShareMs,
  };
  return { plan, token };
}

/**
 * Seeds an empty store; throws (writing nothing) when the options are invalid or the store is not empty.
 * Load-test data writes no audit entries: up to a million rows, written in bulk below the services.
 */
export async function seedStore(
  store: { seedWriter(): Promise<SeedWriter> },
  options: SeedOptions,
  clock: Clock = systemClock,
): Promise<SeedOutput> {
  const { plan, token } = planSeed(options, clock);
  await (await store.seedWriter()).write(plan);
  return { organization_id: plan.organization.id, account_ids: plan.accounts.map((a) => a.id), token };
}
