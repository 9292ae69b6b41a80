/**
 * Closed-loop HTTP load generator, run as a forked child so it never shares an event loop with the
 * server it measures. Protocol: the parent sends one `LoadConfig` message, the child answers with one
 * `LoadResult` and exits. Traffic goes to 127.0.0.1 only and is bounded in time and count.
 */
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface LoadConfig {
  url: string;
  /**
   * `agent`: node:http requests through a keep-alive `http.Agent` (one socket per connection).
   * `raw`: hand-written HTTP/1.1 over plain sockets (Content-Length responses only), far cheaper for the
   * client, which shows how much the `agent` figures are limited by the load generator itself.
   */
  client: 'agent' | 'raw';
  headers: Record<string, string>;
  /** POST mode: the method and the JSON body sent with every request (default: GET, no body). */
  method?: 'GET' | 'POST';
  body?: string;
  /** The status every answer should have (default 200; 201 for a create). */
  expectStatus?: number;
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** Hard cap on measured requests, whatever the duration. */
  maxRequests: number;
}

export interface LoadResult {
  /** Responses in the measured window. */
  requests: number;
  /** Every response received, warm-up included (to divide the server's CPU time by). */
  completed: number;
  errors: number;
  /** Responses whose status was not `expectStatus` (200 unless told). */
  non200: number;
  seconds: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  bytesPerResponse: number;
}

/** The request headers, plus the body's framing in POST mode. */
function headersOf(config: LoadConfig, body: Buffer | undefined): Record<string, string> {
  if (!body) return config.headers;
  return { ...config.headers, 'content-type': 'application/json', 'content-length': String(body.length) };
}

function once(
  agent: Agent,
  config: LoadConfig,
  body: Buffer | undefined,
): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const options = {
      agent,
      method: config.method ?? 'GET',
      headers: headersOf(config, body),
      timeout: 10_000,
    };
    const req = request(config.url, options, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** One keep-alive connection sending a fixed request and reading Content-Length framed responses. */
class RawConnection {
  private socket: Socket | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private pending:
    { resolve: (r: { status: number; bytes: number }) => void; reject: (e: Error) => void } | undefined;
  private readonly request: Buffer;

  constructor(
    private readonly url: URL,
    headers: Record<string, string>,
    method = 'GET',
    body?: Buffer,
  ) {
    const lines = [
      `${method} ${url.pathname}${url.search} HTTP/1.1`,
      `host: ${url.host}`,
      'connection: keep-alive',
    ];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
    this.request = body ? Buffer.concat([head, body]) : head;
  }

  private open(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.url.hostname, port: Number(this.url.port) }, () => resolve(socket));
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('error', (err) => {
        reject(err);
        this.fail(err);
      });
      socket.on('close', () => this.fail(new Error('connection closed')));
    });
  }

  private fail(err: Error): void {
    this.socket = undefined;
    this.buffer = Buffer.alloc(0);
    const p = this.pending;
    this.pending = undefined;
    p?.reject(err);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const headerEnd = this.buffer.indexOf('\r\n\r\n');
    if (headerEnd === -1 || !this.pending) return;
    const head = this.buffer.subarray(0, headerEnd).toString('latin1');
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) {
      this.socket?.destroy();
      this.fail(new Error('response without content-length'));
      return;
    }
    const total = headerEnd + 4 + Number(length[1]);
    if (this.buffer.length < total) return;
    const status = Number(head.slice(9, 12));
    this.buffer = this.buffer.subarray(total);
    const p = this.pending;
    this.pending = undefined;
    p.resolve({ status, bytes: total - headerEnd - 4 });
  }

  async send(): Promise<{ status: number; bytes: number }> {
    this.socket ??= await this.open();
    const socket = this.socket;
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      socket.write(this.request);
    });
  }

  close(): void {
    this.socket?.destroy();
  }
}

export async function runLoad(config: LoadConfig): Promise<LoadResult> {
  if (new URL(config.url).hostname !== '127.0.0.1') throw new Error('load is only sent to 127.0.0.1');
  const agent = new Agent({ keepAlive: true, maxSockets: config.connections });
  const url = new URL(config.url);
  const body = config.body === undefined ? undefined : Buffer.from(config.body);
  const expected = config.expectStatus ?? 200;
  const raws: RawConnection[] = [];
  const latencies: number[] = [];
  let errors = 0;
  let non200 = 0;
  let completed = 0;
  let bytes = 0;
  const t0 = performance.now();
  const measureFrom = t0 + config.warmupMs;
  const stopAt = measureFrom + config.durationMs;
  const worker = async () => {
    const raw =
      config.client === 'raw'
        ? new RawConnection(url, headersOf(config, body), config.method, body)
        : undefined;
    if (raw) raws.push(raw);
    for (;;) {
      const started = performance.now();
      if (started >= stopAt || latencies.length >= config.maxRequests) return;
      try {
        const res = raw ? await raw.send() : await once(agent, config, body);
        const ended = performance.now();
        completed++;
        if (started >= measureFrom && ended <= stopAt) {
          latencies.push(ended - started);
          bytes += res.bytes;
          if (res.status !== expected) non200++;
        }
      } catch {
        errors++;
        if (errors > 1000) return;
      }
    }
  };
  await Promise.all(Array.from({ length: config.connections }, worker));
  agent.destroy();
  for (const r of raws) r.close();
  const seconds = Math.min(performance.now(), stopAt) - measureFrom;
  latencies.sort((a, b) => a - b);
  const at = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? NaN;
  return {
    requests: latencies.length,
    completed,
    errors,
    non200,
    seconds: seconds / 1000,
    rps: latencies.length / (seconds / 1000),
    p50ms: at(50),
    p99ms: at(99),
    bytesPerResponse: latencies.length > 0 ? bytes / latencies.length : 0,
  };
}

if (process.send) {
  // Never outlive the parent (the IPC channel closes when it exits).
  process.once('disconnect', () => process.exit(0));
  process.once('message', (config: LoadConfig) => {
    runLoad(config).then(
      (result) => process.send?.({ ok: true, result }, () => process.exit(0)),
      (err: unknown) => process.send?.({ ok: false, error: String(err) }, () => process.exit(1)),
    );
  });
}
