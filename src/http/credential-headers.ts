import type { IncomingHttpHeaders } from 'node:http';
import { isEmailAddress, isSecretShaped } from '../lib/credential-shapes.js';
import {
  HEADER_CAUSES,
  InvalidHeadersError,
  MissingCredentialsError,
  UnknownKeyError,
  type ErrorDetail,
} from './errors.js';

/** The credential a request presents, read from its headers before anything is looked up. */
export type PresentedCredential =
  { kind: 'token'; value: string } | { kind: 'key'; email: string; key: string };

const BEARER = /^Bearer\s+(\S*)$/i;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Refuses, as Cloudflare does (400 6003 with the cause in `error_chain`), a header no credential can
 * match: an `Authorization` that is not `Bearer <token>`, a token or key of a shape no stored secret has
 * (see `isSecretShaped`), an email that is no address. Well-formed values that match nothing are left
 * to the lookup, which answers as before (1000, 9103).
 */
export function presentedCredential(headers: IncomingHttpHeaders): PresentedCredential {
  const authorization = header(headers, 'authorization');
  if (authorization !== undefined) {
    const value = BEARER.exec(authorization.trim())?.[1];
    if (value === undefined || !isSecretShaped(value))
      throw new InvalidHeadersError([HEADER_CAUSES.authorization]);
    return { kind: 'token', value };
  }
  const email = header(headers, 'x-auth-email');
  const key = header(headers, 'x-auth-key');
  if (email === undefined && key === undefined) throw new MissingCredentialsError();
  const causes: ErrorDetail[] = [];
  if (email !== undefined && !isEmailAddress(email.trim())) causes.push(HEADER_CAUSES.email);
  if (key !== undefined && !isSecretShaped(key)) causes.push(HEADER_CAUSES.key);
  if (causes.length > 0) throw new InvalidHeadersError(causes);
  // Half a pair, each half well formed: as an unknown pair (today's answer).
  if (email === undefined || key === undefined) throw new UnknownKeyError();
  return { kind: 'key', email, key };
}
