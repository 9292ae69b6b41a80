import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** One HTTP/1.1 response as it came off the wire. */
export interface RawReply {
  status: number;
  /** Lower-cased names; the last value of a repeated header. */
  headers: Record<string, string>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON
  body: any;
}

/** Bounded waits: a test that hangs fails with what it was waiting for. */
const WAIT_MS = 15_000;

/**
 * A client socket for what `fetch` cannot send (malformed requests, trickled bytes), reading responses
 * by their Content-Length, so it also shows whether a response was complete and alone on the wire.
 */
export class RawConnection {
  private buffer = Buffer.alloc(0);
  private wake: () => void = () => {};
  closed = false;
  /** Statuses of the interim (1xx) responses read so far. */
  readonly interim: number[] = [];
  /** Write errors once the server has closed (EPIPE, ECONNRESET); expected, kept for inspection. */
  readonly errors: string[] = [];

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => this.errors.push(err.code ?? err.message));
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async open(port: number): Promise<RawConnection> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawConnection(socket);
  }

  write(data: string | Buffer): void {
    if (!this.closed && !this.socket.destroyed) this.socket.write(data);
  }

  /** Writes `data` a byte at a time, `gapMs` apart, until it is all sent or the server closes. */
  async trickle(data: string, gapMs: number): Promise<void> {
    for (const byte of Buffer.from(data, 'latin1')) {
      if (this.closed) return;
      this.write(Buffer.from([byte]));
      await sleep(gapMs);
    }
  }

  private async until<T>(what: string, probe: () => T | undefined): Promise<T> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const value = probe();
      if (value !== undefined) return value;
      if (this.closed && probe() === undefined && what !== 'close')
        assert.fail(`connection closed while waiting for ${what}; received ${JSON.stringify(this.text())}`);
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`timed out after ${WAIT_MS} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, Math.min(left, 250));
      });
    }
  }

  private text(): string {
    return this.buffer.toString('latin1');
  }

  /** The next complete final response (taken off the buffer; interim ones are noted in `interim`). */
  async reply(): Promise<RawReply> {
    return this.until('a response', () => {
      let end = this.buffer.indexOf('\r\n\r\n');
      while (end !== -1 && /^HTTP\/1\.1 1\d\d /.test(this.buffer.subarray(0, 13).toString('latin1'))) {
        this.interim.push(Number(this.buffer.subarray(9, 12).toString('latin1')));
        this.buffer = this.buffer.subarray(end + 4);
        end = this.buffer.indexOf('\r\n\r\n');
      }
      if (end === -1) return undefined;
      const [statusLine = '', ...lines] = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine);
      assert.ok(status, `not an HTTP/1.1 status line: ${statusLine}`);
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length']);
      assert.ok(Number.isInteger(length), `no Content-Length in ${JSON.stringify(headers)}`);
      if (this.buffer.length < end + 4 + length) return undefined;
      const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
      this.buffer = this.buffer.subarray(end + 4 + length);
      return {
        status: Number(status[1]),
        headers,
        body: body === '' ? undefined : (JSON.parse(body) as unknown),
      };
    });
  }

  /** Waits for the server to close the connection; returns whatever arrived and was not read as a reply. */
  async whenClosed(): Promise<string> {
    await this.until('close', () => (this.closed ? true : undefined));
    return this.text();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Sends `request` on a fresh connection and returns the one response and what followed it. */
export async function exchange(
  port: number,
  request: string | Buffer,
): Promise<RawReply & { after: string }> {
  const conn = await RawConnection.open(port);
  try {
    conn.write(request);
    const reply = await conn.reply();
    const after = reply.headers.connection === 'close' ? await conn.whenClosed() : '';
    return { ...reply, after };
  } finally {
    conn.destroy();
  }
}

/** A Cloudflare-style failure, read off the wire: status, code, message, no pointer, JSON. */
export function assertRawError(res: RawReply, status: number, code: number, message: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  assert.deepEqual(res.body, { success: false, errors: [{ code, message }], messages: [], result: null });
}
