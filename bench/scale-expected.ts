/**
 * The total_count every list of the seeded store must answer, derived from the seed's layout rather
 * than assumed: `rshare seed` places share i by formulas of its index (src/emulator/seed/store.ts), so counting
 * them here gives exact figures for any store size, including the per-account split of the env tag.
 */
import { envTag, ownerOf, recipientOf } from '../src/emulator/seed/store.js';

/** Where share i went: its owner's and its recipient's account index, and whether it is tagged env=prod. */
export interface SeedLayout {
  owner(share: number, accounts: number): number;
  recipient(share: number, accounts: number): number;
  prod(share: number, accounts: number): boolean;
}

export const CLI_LAYOUT: SeedLayout = {
  owner: ownerOf,
  recipient: recipientOf,
  prod: (i) => envTag(i) === 'prod',
};

/** What one account's lists hold. Nobody shares with itself, so sent and received never overlap. */
export interface Tally {
  sent: number;
  received: number;
  /** Shares sent or received that carry env=prod. */
  prod: number;
}

/** The tallies of the accounts at `indices`, in one pass over every share. */
export function tallies(layout: SeedLayout, accounts: number, shares: number, indices: number[]): Tally[] {
  const all = Array.from({ length: accounts }, () => ({ sent: 0, received: 0, prod: 0 }));
  for (let i = 0; i < shares; i++) {
    const owner = all[layout.owner(i, accounts)] as Tally;
    const recipient = all[layout.recipient(i, accounts)] as Tally;
    owner.sent++;
    recipient.received++;
    if (layout.prod(i, accounts)) {
      owner.prod++;
      recipient.prod++;
    }
  }
  return indices.map((j) => all[j] as Tally);
}
