/**
 * Test databases: a fresh PostgreSQL database per test file on 127.0.0.1:5432 (dropped at the end), or
 * an in-memory PGlite when TEST_DB=pglite.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export function testDbKind(): 'postgres' | 'pglite' {
  return process.env.TEST_DB === 'pglite' ? 'pglite' : 'postgres';
}

export interface TestDatabase {
  /** DATABASE_URL for the service. */
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(kind = testDbKind()): Promise<TestDatabase> {
  if (kind === 'pglite') return { url: 'pglite:memory', drop: async () => undefined };
  const name = `ph_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
