import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from './port.js';

/** One request the receiver got: its headers, raw body, and the body parsed as JSON. */
export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  raw: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
  body: any;
  /** Whether `x-rshare-signature` is `v1=` + hex HMAC-SHA256 of `<x-rshare-timestamp>.<raw body>`. */
  signatureValid: boolean;
}

/** What to answer: a status and body, or `'hang'` to never answer (the client times out). */
export type Answer = { status: number; body?: string; headers?: Record<string, string> } | 'hang';

/** Computes the signature the receiver expects, independently of the driver's own `sign`. */
export function expectedSignature(secret: string, timestamp: string, raw: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${raw}`, 'utf8').digest('hex')}`;
}

/**
 * A plain `node:http` webhook receiver on 127.0.0.1 and an ephemeral port. It records every request
 * and answers from a script: `answers` are used one per request, then `fallback` for every later one.
 */
export class WebhookReceiver {
  readonly requests: Received[] = [];
  private answers: Answer[] = [];
  private fallback: Answer = { status: 200, body: '{"success":true}' };
  private readonly hanging = new Set<ServerResponse>();
  /** Hung requests whose client closed the connection before any answer (a client-side timeout). */
  abandoned = 0;
  private server: Server | undefined;
  /** Runs after a request is recorded and before it is answered (to change things mid-delivery). */
  onRequest: ((req: Received) => Promise<void>) | undefined;
  /** What `onRequest` threw, for the test to assert empty. */
  readonly hookErrors: unknown[] = [];

  constructor(readonly secret: string) {}

  /** Starts listening; resolves to the URL to configure (`http://127.0.0.1:<port>/hook`). */
  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(raw);
        } catch {
          body = undefined;
        }
        const received: Received = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          raw,
          body,
          signatureValid: this.verify(req.headers, raw),
        };
        this.requests.push(received);
        const answer = this.answers.shift() ?? this.fallback;
        const hook = this.onRequest
          ? this.onRequest(received).catch((err: unknown) => void this.hookErrors.push(err))
          : Promise.resolve();
        void hook.then(() => {
          if (answer === 'hang') {
            this.hanging.add(res);
            res.on('close', () => {
              if (this.hanging.delete(res)) this.abandoned++;
            });
            return;
          }
          res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
          res.end(answer.body ?? '');
        });
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  }

  /** Answers the next requests with `answers`, in order, and every request after them with `fallback`. */
  script(answers: Answer[], fallback: Answer = { status: 200, body: '{"success":true}' }): void {
    this.answers = [...answers];
    this.fallback = fallback;
  }

  private verify(headers: IncomingHttpHeaders, raw: string): boolean {
    const timestamp = headers['x-rshare-timestamp'];
    const signature = headers['x-rshare-signature'];
    if (typeof timestamp !== 'string' || typeof signature !== 'string') return false;
    const expected = Buffer.from(expectedSignature(this.secret, timestamp, raw));
    const actual = Buffer.from(signature);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }

  async close(): Promise<void> {
    const hung = [...this.hanging];
    this.hanging.clear(); // closed by the receiver, not abandoned by the client
    for (const res of hung) res.destroy();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A URL on 127.0.0.1 where nothing listens (a port that was just freed): connections are refused. */
export async function closedPortUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}/hook`;
}
