import { ValidationError } from '../../http/errors.js';
import { newId } from '../../lib/ids.js';
import { pointerSegment } from '../../http/validation.js';
import type { Delivery } from '../../engine/reconciler/drivers/types.js';
import { compileGlob, globError, type PathMatcher } from './paths.js';
import {
  DEFAULT_DELIVERY_ERROR,
  DEFAULT_RETRY_AFTER_S,
  type DeliveryFaultRule,
  type FaultRule,
  type FaultRuleBody,
  type HttpFaultRule,
} from './schemas.js';

const HTTP_FIELDS = new Set([
  'method',
  'path',
  'status',
  'probability',
  'after',
  'latency_ms',
  'retry_after_s',
]);
const DELIVERY_FIELDS = new Set(['account_id', 'resource_type', 'terminal', 'message']);
const SHARED_FIELDS = new Set(['target', 'count']);

interface Entry {
  rule: FaultRule;
  /** The compiled path glob of an http rule. */
  path?: PathMatcher;
}

/**
 * Fault rules for the public API and for deliveries. Kept in the process's memory only, per node: there
 * is no store behind them, a restart forgets them, and on a multi-node deployment each node has its own
 * (a test addresses the node it calls). Rules are consulted in insertion order; the first that fires wins.
 */
export class FaultRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly random: () => number;

  constructor(options: { random?: () => number } = {}) {
    this.random = options.random ?? Math.random;
  }

  /** Checks what the schema cannot (fields of the other target, unknown fields, the glob) and adds the rule. */
  add(body: FaultRuleBody): FaultRule {
    const target = body.target ?? 'http';
    const own = target === 'http' ? HTTP_FIELDS : DELIVERY_FIELDS;
    for (const key of Object.keys(body)) {
      if (SHARED_FIELDS.has(key) || own.has(key)) continue;
      const at = `/${pointerSegment(key)}`;
      if (HTTP_FIELDS.has(key)) throw new ValidationError(`${key} applies only to http rules`, at);
      if (DELIVERY_FIELDS.has(key)) throw new ValidationError(`${key} applies only to delivery rules`, at);
      throw new ValidationError(`${key} is not a field of a fault rule`, at);
    }
    const id = newId();
    const entry = target === 'http' ? httpEntry(id, body) : { rule: deliveryRule(id, body) };
    this.entries.set(id, entry);
    return { ...entry.rule };
  }

  list(): FaultRule[] {
    return [...this.entries.values()].map((e) => ({ ...e.rule }));
  }

  /** False when there is no such rule. */
  remove(id: string): boolean {
    return this.entries.delete(id);
  }

  /** Removes every rule; returns how many there were. */
  clear(): number {
    const n = this.entries.size;
    this.entries.clear();
    return n;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The http rule that fires for this request, if any, counted against each consulted rule: a matching
   * rule counts the request as seen, lets the first `after` through, fires at most `count` times (then
   * stays listed with fired = count), and fires with its probability.
   */
  matchHttp(method: string, apiPath: string): HttpFaultRule | undefined {
    for (const { rule, path } of this.entries.values()) {
      if (rule.target !== 'http') continue;
      if (rule.method !== '*' && rule.method !== method) continue;
      if (!path?.(apiPath)) continue;
      if (this.fires(rule)) return { ...rule };
    }
    return undefined;
  }

  /** The delivery rule that fires for this delivery, if any (by recipient account and resource type). */
  matchDelivery(delivery: Delivery): DeliveryFaultRule | undefined {
    for (const { rule } of this.entries.values()) {
      if (rule.target !== 'delivery') continue;
      if (rule.account_id !== undefined && rule.account_id !== delivery.recipient_account_id) continue;
      if (rule.resource_type !== undefined && rule.resource_type !== delivery.resource.resource_type)
        continue;
      if (this.fires(rule)) return { ...rule };
    }
    return undefined;
  }

  private fires(rule: FaultRule): boolean {
    rule.seen++;
    if (rule.count !== undefined && rule.fired >= rule.count) return false;
    if (rule.target === 'http') {
      if (rule.seen <= rule.after) return false;
      if (rule.probability < 1 && !(this.random() < rule.probability)) return false;
    }
    rule.fired++;
    return true;
  }
}

function httpEntry(id: string, body: FaultRuleBody): Entry {
  if (body.status === undefined && body.latency_ms === undefined)
    throw new ValidationError('status or latency_ms is required', '/status');
  const path = body.path ?? '/**';
  const wrong = globError(path);
  if (wrong !== undefined) throw new ValidationError(`path ${wrong}`, '/path');
  if (body.retry_after_s !== undefined && body.status !== 429)
    throw new ValidationError('retry_after_s applies only to status 429', '/retry_after_s');
  const rule: HttpFaultRule = {
    id,
    target: 'http',
    method: body.method ?? '*',
    path,
    ...(body.status === undefined ? {} : { status: body.status }),
    ...(body.latency_ms === undefined ? {} : { latency_ms: body.latency_ms }),
    ...(body.status === 429 ? { retry_after_s: body.retry_after_s ?? DEFAULT_RETRY_AFTER_S } : {}),
    probability: body.probability ?? 1,
    after: body.after ?? 0,
    ...(body.count === undefined ? {} : { count: body.count }),
    fired: 0,
    seen: 0,
  };
  return { rule, path: compileGlob(path) };
}

function deliveryRule(id: string, body: FaultRuleBody): DeliveryFaultRule {
  return {
    id,
    target: 'delivery',
    ...(body.account_id === undefined ? {} : { account_id: body.account_id }),
    ...(body.resource_type === undefined ? {} : { resource_type: body.resource_type }),
    terminal: body.terminal ?? false,
    message: body.message ?? DEFAULT_DELIVERY_ERROR,
    ...(body.count === undefined ? {} : { count: body.count }),
    fired: 0,
    seen: 0,
  };
}
