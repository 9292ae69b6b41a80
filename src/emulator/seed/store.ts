import { createHash } from 'node:crypto';

/**
 * What `rshare seed` writes: one organization, its accounts and a token, then `shares` shares whose rows
 * follow from their index alone (the derivations below), so a store can generate them in bulk, in SQL if
 * it likes, without one round trip per row.
 */
export interface SeedPlan {
  /** Random per run: the ids of each kind start with `md5(nonce:kind)` (see `seedIds`). */
  nonce: string;
  organization: { id: string; name: string; created: string };
  accounts: { id: string; name: string; created: string }[];
  /** Read and edit on every account and on the organization. */
  token: { id: string; name: string; secret_hash: string; created: string };
  shares: number;
  /** Epoch milliseconds at which share 0 is created; share i is created `i` ms later. */
  firstShareMs: number;
}

export interface SeedWriter {
  /**
   * Writes the whole plan in one transaction, or throws `StoreNotEmptyError` having written nothing when
   * the store already holds an organization, account, user, token or share.
   */
  write(plan: SeedPlan): Promise<void>;
}

export class StoreNotEmptyError extends Error {
  constructor(held: string[]) {
    super(`refusing to seed: the store is not empty (it holds ${held.join(', ')})`);
  }
}

// The derivations both writers follow; the PostgreSQL writer spells them in SQL: keep the two in step.

export type SeedKind = 'organization' | 'account' | 'share' | 'recipient' | 'resource' | 'ruleset';

/**
 * Ids of one kind: a prefix fixed per run and kind, then the index in 16 hex digits. Consecutive rows get
 * consecutive keys, so every primary-key index grows at its right edge instead of at a random leaf: the
 * difference between a fast and a slow seed, and harmless (the app never reads meaning into ids).
 */
export function seedIds(nonce: string, kind: SeedKind): (index: number) => string {
  const prefix = createHash('md5').update(`${nonce}:${kind}`).digest('hex').slice(0, 16);
  return (index) => prefix + index.toString(16).padStart(16, '0');
}

export const ownerOf = (share: number, accounts: number): number => share % accounts;

/**
 * Never the owner; each round of `accounts` consecutive shares uses one offset, so every account receives
 * one share per round, and the offset changes from round to round so it receives from many senders.
 */
export function recipientOf(share: number, accounts: number): number {
  const offset = 1 + (Math.floor(share / accounts) % (accounts - 1));
  return (ownerOf(share, accounts) + offset) % accounts;
}

/** Zero-padded so that ordering by name is ordering by index. */
export const numberWidth = (shares: number): number => Math.max(6, String(shares).length);
export const shareNumber = (share: number, width: number): string => String(share + 1).padStart(width, '0');
export const envTag = (share: number): 'prod' | 'dev' => (share % 2 === 0 ? 'prod' : 'dev');

/**
 * Microseconds after its share's creation at which each later row is stamped, in the order the API
 * (recipient, then resource) and then the inventory driver and reconciler would have written them.
 */
export const STAMP = { recipient: 1, resource: 2, delivered: 3, recorded: 4, associated: 5 } as const;
/** The type of every seeded resource (written as a literal in both stores' bulk statements). */
export const SEEDED_TYPE = 'custom-ruleset';
/** The small meta object of each share's ruleset. */
export const rulesetMeta = (number: string): { name: string } => ({ name: `ruleset ${number}` });

/** Tables that must be empty for a seed: it writes into a new store only. */
export const HELD = ['organizations', 'accounts', 'users', 'tokens', 'shares'] as const;
/** The tables that get rows per share (both writers drop and rebuild their secondary indexes). */
export const BULK = [
  'shares',
  'share_tags',
  'share_recipients',
  'share_resources',
  'recipient_resources',
  'inventory',
  'share_visibility',
];
