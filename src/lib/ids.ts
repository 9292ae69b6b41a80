import { randomBytes, randomUUID } from 'node:crypto';

/** Object identifiers: 32 lowercase hex characters (a UUID without dashes). */
export function newId(): string {
  return randomUUID().replaceAll('-', '');
}

export const ID_PATTERN = '^[0-9a-f]{32}$';
const idRegex = new RegExp(ID_PATTERN);

export function isId(value: string): boolean {
  return idRegex.test(value);
}

/** A fresh high-entropy secret for API tokens and keys (40 URL-safe characters, like Cloudflare's). */
export function newSecret(): string {
  return randomBytes(30).toString('base64url');
}
