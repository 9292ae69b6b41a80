import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startServer, waitFor, type ServerProcess } from './support/process.js';

const lines = (server: ServerProcess) => server.output().split('\n');

/** Starts `rshare serve` on :memory: at level info with `serveArgs`, and passes its listening line to `check`. */
async function onListening(
  serveArgs: string[],
  check: (line: string, server: ServerProcess) => void,
): Promise<void> {
  const server = await startServer({ database: ':memory:', logLevel: 'info', serveArgs });
  try {
    const line = await waitFor('listening line', () =>
      lines(server).find((l) => l.includes('rshare listening')),
    );
    check(line, server);
  } finally {
    await server.stop();
  }
}

describe('rshare serve log format', () => {
  it('given --log-format pretty, when the server starts, then its lines are readable text, not JSON', async () => {
    await onListening(['--log-format', 'pretty'], (line, server) => {
      assert.match(line, /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: rshare listening/);
      assert.ok(
        lines(server).every((l) => !l.startsWith('{')),
        server.output(),
      );
      assert.match(server.output(), /url: "http:\/\/127\.0\.0\.1:\d+"/);
    });
  });

  it('given no format and an output that is not a terminal, when the server starts, then it logs JSON lines', async () => {
    await onListening([], (line) => {
      const entry = JSON.parse(line) as { msg: string; level: number; service: string };
      assert.equal(entry.msg, 'rshare listening');
      assert.equal(entry.level, 30);
      assert.equal(entry.service, 'rshare');
    });
  });
});
