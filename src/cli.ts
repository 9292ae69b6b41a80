#!/usr/bin/env node
import module from 'node:module';
import { Command } from 'commander';
import { serveCommand } from './cli/serve.js';
import { auditCommand, migrateStoreCommand, seedCommand } from './cli/store.js';
import { tenancyCommands } from './cli/tenancy.js';

// Most of a cold start is loading modules (TypeBox, Fastify, Ajv); Node 22.1+ can cache their compiled
// code between runs (the server's modules load after this line). A no-op on Node 20, which lacks it.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const program = new Command('rshare')
  .description("Self-hostable server for Cloudflare's Resource Sharing API")
  .showHelpAfterError();

// Registered in the order `--help` lists them.
serveCommand(program);
migrateStoreCommand(program);
seedCommand(program);
tenancyCommands(program);
auditCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`rshare: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
