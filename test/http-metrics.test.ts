import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HttpMetrics } from '../src/http/metrics/service.js';
import { base, call, OWNER, setup, type Harness } from './helpers.js';
import { startServer, type ServerProcess } from './support/process.js';

const SHARES_ROUTE = '/client/v4/accounts/:account_id/shares';

describe('HTTP metrics', () => {
  describe('given an app that counts its requests', () => {
    let h: Harness;
    before(async () => {
      const httpMetrics = new HttpMetrics();
      h = await setup({ app: { httpMetrics, metrics: httpMetrics.registry } });
    });
    after(() => h.close());

    it('when requests are answered, then /metrics counts them by method, route pattern and status, with their latency', async () => {
      await call(h.app, 'GET', base());
      await call(h.app, 'GET', base(OWNER));
      await call(h.app, 'GET', base(), { token: null });
      await call(h.app, 'GET', '/accounts/x/nothing-here');
      const res = await h.app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(res.statusCode, 200);
      assert.match(res.headers['content-type'] as string, /^text\/plain/);
      const text = res.body;
      assert.match(
        text,
        new RegExp(`rshare_http_requests_total\\{method="GET",route="${SHARES_ROUTE}",status="200"\\} 2\\n`),
      );
      assert.match(
        text,
        new RegExp(`rshare_http_requests_total\\{method="GET",route="${SHARES_ROUTE}",status="400"\\} 1\\n`),
      );
      assert.match(text, /rshare_http_requests_total\{method="GET",route="unmatched",status="404"\} 1\n/);
      assert.match(
        text,
        new RegExp(
          `rshare_http_request_duration_seconds_count\\{method="GET",route="${SHARES_ROUTE}"\\} 3\\n`,
        ),
      );
    });
  });

  describe('given server processes by role', () => {
    let api: ServerProcess;
    let all: ServerProcess;
    before(async () => {
      api = await startServer({ database: ':memory:', role: 'api' });
      all = await startServer({ database: ':memory:', role: 'all' });
    });
    after(async () => {
      await api.stop();
      await all.stop();
    });

    it('when an API-only node is scraped, then /metrics has the HTTP metrics and no reconciler metrics', async () => {
      await fetch(`${api.url}/client/v4/user/tokens/verify`);
      const text = await (await fetch(`${api.url}/metrics`)).text();
      assert.match(
        text,
        /rshare_http_requests_total\{method="GET",route="\/client\/v4\/user\/tokens\/verify",status="400"\} 1/,
      );
      assert.doesNotMatch(text, /rshare_reconcile_pending/);
    });

    it('when a node with a reconciler is scraped, then /metrics has both', async () => {
      await fetch(`${all.url}/client/v4/user/tokens/verify`);
      const text = await (await fetch(`${all.url}/metrics`)).text();
      assert.match(
        text,
        /rshare_http_requests_total\{method="GET",route="\/client\/v4\/user\/tokens\/verify",status="400"\} 1/,
      );
      assert.match(text, /rshare_reconcile_pending \d+/);
    });
  });
});
