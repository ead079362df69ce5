/**
 * The floors: the same catalog and config JSON the service served, from memory, in their own process.
 * `fastify`: a bare Fastify route (what the framework alone costs); `http`: bare `node:http` (what Node
 * alone costs). Whatever the service spends above these (auth, cache lookup, hooks, headers) is its own.
 * Usage: node --import tsx bench/floor.ts <fastify|http> <catalog body file> <config body file>;
 * prints {"port": n} when listening.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import Fastify from 'fastify';

const [mode, catalogFile, configFile] = process.argv.slice(2);
const bodies: Record<string, Buffer> = {
  '/api/v1/catalogo_perfiles_venta': readFileSync(catalogFile),
  '/api/v1/config/public': readFileSync(configFile ?? catalogFile),
};
const TYPE = 'application/json; charset=utf-8';

let port: number;
let close: () => Promise<void>;
if (mode === 'http') {
  const server = createServer((req, res) => {
    const body = bodies[req.url ?? ''];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPE, 'content-length': body.length });
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  port = (server.address() as { port: number }).port;
  close = () => new Promise((r) => server.close(() => r()));
} else {
  const app = Fastify({ logger: false });
  for (const [path, body] of Object.entries(bodies)) app.get(path, async (_request, reply) => reply.type(TYPE).send(body));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  port = typeof address === 'object' && address ? address.port : 0;
  close = () => app.close();
}
process.stdout.write(JSON.stringify({ port }) + '\n');
process.once('SIGTERM', () => void close().then(() => process.exit(0)));
