/**
 * What sits between rshare and PostgreSQL (docs/postgresql.md, "Production PostgreSQL: PgBouncer and failover"), in a
 * module of its own so the CLI can list the choices without loading the PostgreSQL driver.
 * `none`: PostgreSQL itself; session settings go in the startup packet and hot queries are named prepared
 * statements. `session`: a pooler in session mode (PgBouncer refuses those startup parameters), so the
 * settings are sent as `SET` once per connection. `transaction`: a pooler in transaction mode, where
 * consecutive statements may run on different server sessions, so rshare keeps no session state at all.
 */
export type PgPooler = 'none' | 'session' | 'transaction';
export const PG_POOLERS: readonly PgPooler[] = ['none', 'session', 'transaction'];
