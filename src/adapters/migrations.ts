import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../lib/package-root.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const loaded = new Map<string, Migration[]>();

/**
 * The numbered `NNN_name.sql` files of one store, in version order, read once per process (readiness
 * checks compare against them on every probe). They live at the package root, `migrations/<kind>/`.
 */
export function loadMigrations(kind: 'sqlite' | 'postgres'): Migration[] {
  let migrations = loaded.get(kind);
  if (!migrations) {
    const dir = join(packageRoot(import.meta.url), 'migrations', kind);
    migrations = readdirSync(dir)
      .filter((f) => /^\d+_.+\.sql$/.test(f))
      .sort()
      .map((f) => ({ version: Number.parseInt(f, 10), name: f, sql: readFileSync(join(dir, f), 'utf8') }));
    loaded.set(kind, migrations);
  }
  return migrations;
}
