import { createHash, createHmac } from 'node:crypto';
import type { Clock } from '../../../lib/clock.js';
import type { Delivery, DeliveryDriver, DeliveryOutcome } from './types.js';

export interface WebhookConfig {
  url: string;
  secret: string;
  timeoutMs: number;
}

export const SIGNATURE_HEADER = 'x-rshare-signature';
export const TIMESTAMP_HEADER = 'x-rshare-timestamp';
export const IDEMPOTENCY_HEADER = 'idempotency-key';

/**
 * Same key for every attempt at one (recipient association, resource, version, action), so receivers can
 * dedupe retries; removing and adding back a recipient gives new keys.
 */
export function idempotencyKey(d: Delivery): string {
  return createHash('sha256')
    .update([d.recipient_id, d.association, d.resource.id, d.resource.resource_version, d.action].join('\0'))
    .digest('hex');
}

/** `v1=` + hex HMAC-SHA256 of `<timestamp>.<body>` with the driver's secret. */
export function sign(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

const MAX_ERROR_LENGTH = 500;

/** The receiver's own words for a refusal: a Cloudflare-style envelope, `{message}`, `{error}`, or text. */
async function refusal(res: Response): Promise<string> {
  const text = (await res.text().catch(() => '')).trim();
  let message = text;
  try {
    const json = JSON.parse(text) as { errors?: { message?: unknown }[]; message?: unknown; error?: unknown };
    const candidate = json.errors?.[0]?.message ?? json.message ?? json.error;
    if (typeof candidate === 'string') message = candidate;
  } catch {
    // not JSON: keep the text
  }
  return (message || `Webhook answered HTTP ${res.status}`).slice(0, MAX_ERROR_LENGTH);
}

/** POSTs signed apply/remove events; 2xx is done, 4xx terminal, anything else retried. */
export class WebhookDriver implements DeliveryDriver {
  readonly name = 'webhook';
  constructor(
    private readonly config: WebhookConfig,
    private readonly clock: Clock,
  ) {}

  async deliver(d: Delivery): Promise<DeliveryOutcome> {
    const key = idempotencyKey(d);
    const body = JSON.stringify({
      action: d.action,
      idempotency_key: key,
      share_id: d.share_id,
      recipient_id: d.recipient_id,
      recipient_account_id: d.recipient_account_id,
      resource: {
        id: d.resource.id,
        resource_id: d.resource.resource_id,
        resource_type: d.resource.resource_type,
        resource_account_id: d.resource.resource_account_id,
        resource_version: d.resource.resource_version,
        meta: d.resource.meta,
      },
    });
    const timestamp = String(Math.floor(this.clock.now() / 1000));
    let res: Response;
    try {
      res = await fetch(this.config.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'rshare-webhook',
          [IDEMPOTENCY_HEADER]: key,
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: sign(this.config.secret, timestamp, body),
        },
        body,
        signal: AbortSignal.timeout(this.config.timeoutMs),
        redirect: 'manual', // a redirect is no delivery (following it would drop the signed body)
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: unknown } }).cause?.code;
      const reason =
        err instanceof Error
          ? err.name === 'TimeoutError'
            ? 'timed out'
            : `${err.message}${typeof cause === 'string' ? ` (${cause})` : ''}`
          : String(err);
      return { ok: false, terminal: false, error: `Webhook request failed: ${reason}` };
    }
    if (res.status >= 200 && res.status < 300) {
      await res.body?.cancel();
      return { ok: true };
    }
    const error = await refusal(res);
    return { ok: false, terminal: res.status >= 400 && res.status < 500, error };
  }
}
