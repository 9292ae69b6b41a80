/**
 * What an email address and a secret (API token value, global API key) look like: the rules the tenancy
 * applies when they are created and the API applies to the headers that carry them, so a header the
 * API refuses as malformed can never be one a stored credential needs.
 */

/** Longest secret rshare accepts. */
export const MAX_SECRET_LENGTH = 512;
/** Secrets travel in HTTP headers, so only visible ASCII without spaces is accepted. */
export const SECRET_CHARACTERS = /^[\x21-\x7e]+$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const MAX_EMAIL_LENGTH = 254;

export function isEmailAddress(value: string): boolean {
  return value.length <= MAX_EMAIL_LENGTH && EMAIL.test(value);
}

/**
 * Cloudflare's own tokens (40 of `[A-Za-z0-9_-]`, or `cfut_`/`cfat_`-prefixed) and global keys (37 hex
 * digits), rshare's generated ones (40 base64url) and any operator-supplied one all have this shape.
 */
export function isSecretShaped(value: string): boolean {
  return value.length > 0 && value.length <= MAX_SECRET_LENGTH && SECRET_CHARACTERS.test(value);
}
