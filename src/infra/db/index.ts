/**
 * One database API over two engines: node-postgres (production) and PGlite (the embedded default).
 * Domain code uses `db.orm` (Drizzle) and `db.transaction`; infrastructure uses the raw helpers.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { basename, dirname, join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import pg from 'pg';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { DatabaseTarget } from '../../config/index.js';
import * as schema from './schema.js';

export type Schema = typeof schema;
export type Orm = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** Either the database or an open transaction: queries that may run inside a caller's transaction take this. */
export type Executor = Orm | Tx;

/** Run raw SQL on one connection (statements without parameters may be several, separated by `;`). */
export type RawExec = <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<T[]>;

// Timestamps stay the database's text (naive UTC); bigint counts become numbers.
pg.types.setTypeParser(1114, (v: string) => v);
pg.types.setTypeParser(1184, (v: string) => v);
pg.types.setTypeParser(20, (v: string) => Number(v));

const PGLITE_PARSERS = { 1114: (v: string) => v, 1184: (v: string) => v, 20: (v: string) => Number(v) };

export interface Database {
  readonly kind: 'postgres' | 'pglite';
  readonly orm: Orm;
  /** Raw query on any pooled connection. */
  query: RawExec;
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Run `fn` on one dedicated connection (session-level advisory locks, multi-statement SQL). */
  withConnection<T>(fn: (exec: RawExec) => Promise<T>): Promise<T>;
  /** Subscribe to NOTIFY on a channel; survives connection loss (re-LISTENs). Returns an unsubscribe. */
  listen(channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenOptions {
  poolSize?: number;
  logger?: Logger;
  /**
   * PostgreSQL's idle_in_transaction_session_timeout for the pool's sessions (0 or unset: none). Some
   * transactions hold a row lock across a router call (top-up reverts): if the instance freezes there, its locks
   * would stay until TCP gives up, blocking every other instance that needs the row; PostgreSQL ends the session
   * instead and the lock goes. Above the RouterOS timeouts, so a live instance is never cut.
   */
  idleInTransactionTimeoutMs?: number;
}

export async function openDatabase(target: DatabaseTarget, opts: OpenOptions = {}): Promise<Database> {
  return target.kind === 'pglite' ? openPglite(target.url) : openPostgres(target.url, opts);
}

async function openPostgres(url: string, opts: OpenOptions): Promise<Database> {
  const { logger } = opts;
  const idleTx = Math.max(0, Math.floor(opts.idleInTransactionTimeoutMs ?? 0));
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 20,
    options: `-c TimeZone=UTC${idleTx > 0 ? ` -c idle_in_transaction_session_timeout=${idleTx}` : ''}`,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30000,
  });
  const connectionLost = (err: Error) => logger?.warn({ err: err.message }, 'conexión de base de datos perdida');
  // An idle client losing its connection (e.g. PostgreSQL restart) must not crash the process.
  pool.on('error', connectionLost);
  // Nor a checked-out one (pg-pool listens only while a client is idle): a session PostgreSQL ended between two
  // statements (idle_in_transaction_session_timeout, a restart) fails its next query instead.
  pool.on('connect', (client) => client.on('error', connectionLost));
  const orm = drizzlePg(pool, { schema }) as unknown as Orm;

  const listeners = new Map<string, Set<(payload: string) => void>>();
  let listenClient: pg.Client | null = null;
  let closed = false;
  let connecting: Promise<void> | null = null;

  const connectListener = async (): Promise<void> => {
    if (closed || listeners.size === 0) return;
    const client = new pg.Client({ connectionString: url, options: '-c TimeZone=UTC' });
    client.on('notification', (msg) => {
      for (const cb of listeners.get(msg.channel) ?? []) cb(msg.payload ?? '');
    });
    const reconnect = () => {
      if (listenClient !== client) return;
      listenClient = null;
      client.end().catch(() => undefined);
      if (!closed) setTimeout(() => void ensureListener(), 500).unref();
    };
    client.on('error', reconnect);
    client.on('end', reconnect);
    try {
      await client.connect();
      for (const channel of listeners.keys()) await client.query(`LISTEN ${quoteIdent(channel)}`);
      listenClient = client;
      // Anything published while we were disconnected was missed: tell every subscriber to resync.
      for (const set of listeners.values()) for (const cb of set) cb('*');
    } catch (err) {
      logger?.warn({ err: (err as Error).message }, 'LISTEN no disponible; reintentando');
      client.end().catch(() => undefined);
      if (!closed) setTimeout(() => void ensureListener(), 1000).unref();
    }
  };
  const ensureListener = async () => {
    if (listenClient || closed) return;
    connecting ??= connectListener().finally(() => (connecting = null));
    await connecting;
  };

  const query: RawExec = async (text, params) => (await pool.query(text, params as unknown[])).rows;

  return {
    kind: 'postgres',
    orm,
    query,
    transaction: (fn) => orm.transaction(fn),
    async withConnection(fn) {
      const client = await pool.connect();
      try {
        return await fn(async (text, params) => (await client.query(text, params as unknown[])).rows);
      } finally {
        client.release();
      }
    },
    async listen(channel, onMessage) {
      let set = listeners.get(channel);
      const isNew = !set;
      if (!set) listeners.set(channel, (set = new Set()));
      set.add(onMessage);
      if (listenClient && isNew) await listenClient.query(`LISTEN ${quoteIdent(channel)}`);
      else await ensureListener();
      return async () => {
        set!.delete(onMessage);
      };
    },
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      closed = true;
      const c = listenClient;
      listenClient = null;
      await c?.end().catch(() => undefined);
      await pool.end();
    },
  };
}

async function openPglite(location: string): Promise<Database> {
  // Both loaded here, not at the top: drizzle-orm/pglite imports PGlite (its wasm and data files), which a
  // PostgreSQL instance never needs.
  const [{ PGlite }, { drizzle: drizzlePglite }] = await Promise.all([import('@electric-sql/pglite'), import('drizzle-orm/pglite')]);
  let client;
  if (location === 'memory') {
    client = new PGlite({ parsers: PGLITE_PARSERS });
  } else {
    const dir = resolve(location);
    mkdirSync(dirname(dir), { recursive: true });
    client = new PGlite(dir, { parsers: PGLITE_PARSERS });
  }
  await client.waitReady;
  await client.exec("SET TimeZone = 'UTC'");
  const orm = drizzlePglite(client, { schema }) as unknown as Orm;
  const query: RawExec = async (text, params) => (await client.query(text, params as unknown[])).rows as never[];
  // PGlite is one connection: a "dedicated connection" is the same one, so run multi-statement SQL via exec.
  const exec: RawExec = async (text, params) => {
    if (params && params.length > 0) return query(text, params);
    const results = await client.exec(text);
    return (results.at(-1)?.rows ?? []) as never[];
  };
  return {
    kind: 'pglite',
    orm,
    query,
    transaction: (fn) => orm.transaction(fn),
    withConnection: (fn) => fn(exec),
    async listen(channel, onMessage) {
      const unsub = await client.listen(channel, onMessage);
      return unsub;
    },
    async ping() {
      await client.query('SELECT 1');
    },
    async close() {
      await client.close();
    },
  };
}

function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/** Arbitrary constant: the migration advisory lock shared by every instance. */
const MIGRATION_LOCK = 7_451_926_001;

const HERE = dirname(fileURLToPath(import.meta.url));
/** The repository's migrations/: three levels above src/infra/db/, or one above the bundle in dist/. */
export const MIGRATIONS_DIR = basename(HERE) === 'dist' ? join(HERE, '..', 'migrations') : join(HERE, '..', '..', '..', 'migrations');

/**
 * Apply every migrations/NNNN_*.sql not yet recorded, in order, each in its own transaction, while
 * holding a session advisory lock so that instances starting together apply each file exactly once.
 */
export async function migrate(db: Database, logger?: Logger, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort();
  return db.withConnection(async (exec) => {
    await exec('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version varchar(200) PRIMARY KEY,
        applied_at timestamp without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'))`);
      const done = new Set((await exec<{ version: string }>('SELECT version FROM schema_migrations')).map((r) => r.version));
      const applied: string[] = [];
      for (const file of files) {
        if (done.has(file)) continue;
        const text = await readFile(join(dir, file), 'utf8');
        await exec('BEGIN');
        try {
          await exec(text);
          await exec('INSERT INTO schema_migrations (version) VALUES ($1)', [file]);
          await exec('COMMIT');
        } catch (err) {
          await exec('ROLLBACK');
          throw new Error(`La migración ${file} falló: ${(err as Error).message}`, { cause: err });
        }
        applied.push(file);
        logger?.info({ migration: file }, 'migración aplicada');
      }
      return applied;
    } finally {
      await exec('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  });
}
