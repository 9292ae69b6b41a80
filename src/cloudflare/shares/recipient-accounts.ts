import { ValidationError } from '../../http/errors.js';
import type { AccountRow } from '../../platform/tenancy/store.js';
import type { CreateShareBody } from './schemas.js';

/* The recipient accounts a request names: under which field, whether the owner's organization holds them. */

/** Names a recipient account may arrive under, preferred first: the contract's, its deprecated alias, the SDK's. */
const ACCOUNT_FIELDS = ['recipient_account_id', 'account_id', 'body_account_id'] as const;

/** The account a recipient item names, through any of its field names; undefined for an organization item. */
export function recipientAccount(
  item: Partial<Record<(typeof ACCOUNT_FIELDS)[number], string>>,
  pointer: string,
): { id: string; pointer: string } | undefined {
  const given = ACCOUNT_FIELDS.filter((f) => item[f] !== undefined);
  const [first, ...others] = given;
  if (first === undefined) return undefined;
  const id = item[first] as string;
  const conflicting = others.find((f) => item[f] !== id);
  if (conflicting) {
    throw new ValidationError(
      `${first} and ${conflicting} name different accounts; send only recipient_account_id`,
      `${pointer}/${conflicting}`,
    );
  }
  return { id, pointer: `${pointer}/${first}` };
}

/**
 * Every account id the items name under any of the account fields, without validating them: that happens
 * item by item, in order, against the membership of just these ids.
 */
export function namedAccounts(
  items: readonly Partial<Record<(typeof ACCOUNT_FIELDS)[number], string>>[],
): string[] {
  const ids = new Set<string>();
  for (const item of items) {
    for (const f of ACCOUNT_FIELDS) {
      const id = item[f];
      if (id !== undefined) ids.add(id);
    }
  }
  return [...ids];
}

/** Which accounts the owner's organization holds: the members read from the store, or an assumption. */
export interface Membership {
  has(accountId: string): boolean;
}

/**
 * Takes every account for a member, to check the rest of a body before membership is known, and tells
 * whether any account was asked about (then a later problem may not be the body's first).
 */
export function assumeMembers(): Membership & { asked(): boolean } {
  let asked = false;
  return {
    has() {
      asked = true;
      return true;
    },
    asked: () => asked,
  };
}

/** Checks that an account may receive shares from `owner`, throwing with the field's pointer if not. */
export function checkRecipientAccount(
  owner: AccountRow,
  orgAccounts: Membership,
  id: string,
  pointer: string,
) {
  if (id === owner.id) throw new ValidationError('A share cannot be shared with its owner account', pointer);
  if (!orgAccounts.has(id)) {
    throw new ValidationError(`Account ${id} is not a member of the share owner's organization`, pointer);
  }
}

/**
 * Decides the target of a new share from its `recipients` items and lists the accounts it names (none for
 * an organization-targeted share: the reconciler derives those recipients from the members).
 */
export function resolveRecipients(
  owner: AccountRow,
  items: CreateShareBody['recipients'],
  orgAccounts: Membership,
): { targetType: 'account' | 'organization'; accountIds: string[] } {
  const accounts: string[] = [];
  const seen = new Set<string>();
  let organization = false;
  items.forEach((item, i) => {
    const pointer = `/recipients/${i}`;
    const account = recipientAccount(item, pointer);
    if (account && item.organization_id !== undefined) {
      throw new ValidationError('A recipient names either an account or an organization, not both', pointer);
    }
    if (account) {
      if (organization) throw mixed(pointer);
      checkRecipientAccount(owner, orgAccounts, account.id, account.pointer);
      if (seen.has(account.id))
        throw new ValidationError(`Account ${account.id} is listed twice`, account.pointer);
      seen.add(account.id);
      accounts.push(account.id);
      return;
    }
    if (accounts.length > 0) throw mixed(pointer);
    if (item.organization_id !== undefined && item.organization_id !== owner.organization_id) {
      throw new ValidationError(
        "organization_id must be the share owner's organization",
        `${pointer}/organization_id`,
      );
    }
    organization = true;
  });
  if (!organization) return { targetType: 'account', accountIds: accounts };
  // The members' recipients are derived by the reconciler (the share's 'share' work, queued with it).
  return { targetType: 'organization', accountIds: [] };
}

function mixed(pointer: string): ValidationError {
  return new ValidationError(
    'A share targets either specific accounts or the whole organization; do not mix the two',
    pointer,
  );
}
