/**
 * The floor: a bare Fastify route that returns the same catalog JSON from memory, in its own process.
 * Whatever the service spends above this (auth, cache lookup, hooks, headers) is its own cost.
 * Usage: node --import tsx bench/floor.ts <file with the JSON body>; prints {"port": n} when listening.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const body = readFileSync(process.argv[2], 'utf8');
const app = Fastify({ logger: false });
app.get('/api/v1/catalogo_perfiles_venta', async (_request, reply) => reply.type('application/json; charset=utf-8').send(body));
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
process.stdout.write(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }) + '\n');
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
