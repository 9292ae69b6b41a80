/**
 * Baselines for the GET throughput comparison, run as a forked child: a bare `node:http` server, or a
 * minimal Fastify app with the same route shape, answering every request with one fixed JSON body. It
 * receives `{ kind, body, status? }` over IPC and answers with its port once listening on 127.0.0.1.
 */
import Fastify from 'fastify';
import { createServer } from 'node:http';

export type BaselineKind = 'node' | 'fastify';

// Never outlive the parent (the IPC channel closes when it exits).
process.once('disconnect', () => process.exit(0));

function reportPort(address: unknown): void {
  const port = typeof address === 'object' && address !== null ? (address as { port: number }).port : 0;
  process.send?.({ port });
}

async function fastify(body: string): Promise<void> {
  const app = Fastify({ logger: false });
  app.get('/client/v4/accounts/:account_id/shares/:share_id', async (_req, reply) =>
    reply.type('application/json; charset=utf-8').send(body),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  reportPort(app.server.address());
  process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

/** `status` lets it stand in for a create (201) as well as a read. */
function node(body: Buffer, status = 200): void {
  const server = createServer((req, res) => {
    // Drain the (empty) request before answering, as a real handler would.
    req.resume();
    req.on('end', () => {
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': body.length,
      });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 72_000;
  server.listen(0, '127.0.0.1', () => reportPort(server.address()));
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
}

process.once('message', (msg: { kind: BaselineKind; body: string; status?: number }) => {
  if (msg.kind === 'fastify') void fastify(msg.body);
  else node(Buffer.from(msg.body), msg.status);
});
