import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startServer, waitFor } from './support/process.js';

describe('rshare serve log format', () => {
  it('given --log-format pretty, when the server starts, then its lines are readable text, not JSON', async () => {
    const server = await startServer({
      database: ':memory:',
      logLevel: 'info',
      serveArgs: ['--log-format', 'pretty'],
    });
    try {
      const line = await waitFor('listening line', () =>
        server
          .output()
          .split('\n')
          .find((l) => l.includes('rshare listening')),
      );
      assert.match(line, /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: rshare listening/);
      assert.ok(
        server
          .output()
          .split('\n')
          .every((l) => !l.startsWith('{')),
        server.output(),
      );
      assert.match(server.output(), /url: "http:\/\/127\.0\.0\.1:\d+"/);
    } finally {
      await server.stop();
    }
  });

  it('given no format and an output that is not a terminal, when the server starts, then it logs JSON lines', async () => {
    const server = await startServer({ database: ':memory:', logLevel: 'info' });
    try {
      const line = await waitFor('listening line', () =>
        server
          .output()
          .split('\n')
          .find((l) => l.includes('rshare listening')),
      );
      const entry = JSON.parse(line) as { msg: string; level: number; service: string };
      assert.equal(entry.msg, 'rshare listening');
      assert.equal(entry.level, 30);
      assert.equal(entry.service, 'rshare');
    } finally {
      await server.stop();
    }
  });
});
