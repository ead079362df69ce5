/** `npm run migrate`: apply pending migrations to DATABASE_URL and exit. */
import { configOrExit } from '../src/server.js';
import { openDatabase, migrate } from '../src/infra/db/index.js';
import { createLogger } from '../src/infra/logging.js';

const config = configOrExit();
const logger = createLogger(config.logLevel);
const db = await openDatabase(config.database, { poolSize: 2, logger });
try {
  const applied = await migrate(db, logger);
  process.stdout.write(applied.length ? `Migraciones aplicadas: ${applied.join(', ')}\n` : 'La base de datos ya está al día.\n');
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await db.close();
}
