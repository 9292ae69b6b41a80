import { Agent, request } from 'node:http';

/** One keep-alive connection pool to the server under test (127.0.0.1 only). */
export class JsonClient {
  private readonly agent: Agent;
  constructor(
    readonly base: string,
    private readonly token: string,
    maxSockets = 4,
  ) {
    const url = new URL(base);
    if (url.hostname !== '127.0.0.1')
      throw new Error(`benchmarks only talk to 127.0.0.1, not ${url.hostname}`);
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  /** Sends a request and resolves with status, parsed body and round-trip milliseconds. */
  send<T>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T; ms: number; bytes: number }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.base}${path}`,
        {
          method,
          agent: this.agent,
          timeout: 30_000,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const ms = performance.now() - started;
            const raw = Buffer.concat(chunks);
            try {
              resolve({
                status: res.statusCode ?? 0,
                body: JSON.parse(raw.toString('utf8')) as T,
                ms,
                bytes: raw.length,
              });
            } catch (err) {
              reject(new Error(`${method} ${path}: ${res.statusCode} non-JSON body`, { cause: err }));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Like `send`, but throws unless the status is the expected one; returns the envelope's `result`. */
  async expect<T>(
    status: number,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ result: T; ms: number }> {
    const res = await this.send<{ result: T }>(method, path, body);
    if (res.status !== status) {
      throw new Error(
        `${method} ${path}: expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`,
      );
    }
    return { result: res.body.result, ms: res.ms };
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The value below which `p` percent of the (unsorted) samples fall (nearest rank). */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}
