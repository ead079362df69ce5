/**
 * Our RouterOS client against hand-scripted peers (not the simulator): reply words, tags, partial
 * writes, timeouts, broken connections; then the pool (bounds, reuse, dead idle sessions) and the breaker.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeSentence, SentenceReader } from '../../src/modules/hotspot/routeros/protocol.js';
import { RouterOSConnection, type ConnectionOptions } from '../../src/modules/hotspot/routeros/connection.js';
import { CommandTimeoutError, ConnectError, ConnectionLostError, FatalError, TrapError } from '../../src/modules/hotspot/routeros/errors.js';
import { RouterPool } from '../../src/modules/hotspot/routeros/pool.js';

type Handler = (words: string[], send: (...sentences: string[][]) => void, socket: net.Socket) => void | Promise<void>;

interface RawServer {
  port: number;
  accepted: number;
  sockets: Set<net.Socket>;
  close(): Promise<void>;
}

const servers: RawServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** A peer that logs in anyone and hands every later sentence to `handler`. */
async function rawServer(handler: Handler, opts: { byteByByte?: boolean; login?: boolean } = {}): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const state = { accepted: 0 };
  const server = net.createServer((socket) => {
    state.accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const reader = new SentenceReader();
    const send = (...sentences: string[][]) => {
      const bytes = Buffer.concat(sentences.map((s) => encodeSentence(s)));
      if (!opts.byteByByte) {
        socket.write(bytes);
        return;
      }
      void (async () => {
        for (let i = 0; i < bytes.length; i++) {
          if (socket.destroyed) return;
          socket.write(bytes.subarray(i, i + 1));
          await new Promise((r) => setImmediate(r));
        }
      })();
    };
    socket.on('data', (chunk) => {
      for (const words of reader.push(chunk)) {
        const tag = words.find((w) => w.startsWith('.tag='));
        if (words[0] === '/login' && opts.login !== false) {
          send(['!done', ...(tag ? [tag] : [])]);
          continue;
        }
        void handler(words, send, socket);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const s: RawServer = {
    port: (server.address() as net.AddressInfo).port,
    get accepted() {
      return state.accepted;
    },
    sockets,
    async close() {
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  servers.push(s);
  return s;
}

const tagOf = (words: string[]) => words.find((w) => w.startsWith('.tag='))!;

function options(port: number, extra: Partial<ConnectionOptions> = {}): ConnectionOptions {
  return { host: '127.0.0.1', port, user: 'admin', password: 'x', tls: false, connectTimeoutMs: 1000, commandTimeoutMs: 1000, ...extra };
}

describe('RouterOSConnection', () => {
  it('sends the plain login and then commands with tags, attributes, proplist and queries', async () => {
    const seen: string[][] = [];
    const srv = await rawServer((words, send) => {
      seen.push(words);
      send(['!re', '=name=PT-1', '=password=0123', tagOf(words)], ['!done', tagOf(words)]);
    });
    const conn = await RouterOSConnection.open(options(srv.port));
    const r = await conn.command('/ip/hotspot/user/print', { proplist: ['name', 'password'], query: { name: 'PT-1' } });
    assert.deepEqual(r, { rows: [{ name: 'PT-1', password: '0123' }], done: {}, empty: false });
    assert.deepEqual(seen[0].slice(0, 3), ['/ip/hotspot/user/print', '=.proplist=name,password', '?=name=PT-1']);
    assert.match(seen[0][3], /^\.tag=\d+$/);
    conn.close();
  });

  it('understands !empty (RouterOS 7.18) followed by !done', async () => {
    const srv = await rawServer((words, send) => send(['!empty', tagOf(words)], ['!done', tagOf(words)]));
    const conn = await RouterOSConnection.open(options(srv.port));
    assert.deepEqual(await conn.command('/ip/hotspot/active/print'), { rows: [], done: {}, empty: true });
    // The connection is still usable afterwards.
    assert.equal((await conn.command('/ip/hotspot/active/print')).empty, true);
    conn.close();
  });

  it('turns !trap into TrapError (several traps joined) and stays usable', async () => {
    let n = 0;
    const srv = await rawServer((words, send) => {
      if (n++ === 0) send(['!trap', '=category=1', '=message=uno', tagOf(words)], ['!trap', '=message=dos', tagOf(words)], ['!done', tagOf(words)]);
      else send(['!done', '=ret=*5', tagOf(words)]);
    });
    const conn = await RouterOSConnection.open(options(srv.port));
    await assert.rejects(conn.command('/ip/hotspot/user/add'), (err: unknown) => {
      assert.ok(err instanceof TrapError);
      assert.equal(err.message, 'uno, dos');
      assert.equal(err.category, '1');
      return true;
    });
    assert.deepEqual((await conn.command('/ip/hotspot/user/add')).done, { ret: '*5' });
    conn.close();
  });

  it('turns !fatal into FatalError and closes the connection', async () => {
    const srv = await rawServer((_words, send, socket) => {
      send(['!fatal', 'too many commands before login']);
      socket.end();
    });
    const conn = await RouterOSConnection.open(options(srv.port));
    await assert.rejects(conn.command('/system/identity/print'), (err: unknown) => err instanceof FatalError && err.message === 'too many commands before login');
    assert.equal(conn.closed, true);
    await assert.rejects(conn.command('/system/identity/print'), FatalError);
  });

  it('ignores replies carrying another tag (left over from an abandoned command)', async () => {
    const srv = await rawServer((words, send) => send(['!re', '=name=stale', '.tag=999'], ['!done', '.tag=999'], ['!re', '=name=mine', tagOf(words)], ['!done', tagOf(words)]));
    const conn = await RouterOSConnection.open(options(srv.port));
    assert.deepEqual((await conn.command('/system/identity/print')).rows, [{ name: 'mine' }]);
    conn.close();
  });

  it('reassembles replies written one byte at a time', async () => {
    const srv = await rawServer((words, send) => send(['!re', `=source=${'s'.repeat(300)}`, '=comment=Ñ', tagOf(words)], ['!done', tagOf(words)]), { byteByByte: true });
    const conn = await RouterOSConnection.open(options(srv.port));
    const r = await conn.command('/system/script/print');
    assert.equal(r.rows[0].source.length, 300);
    assert.equal(r.rows[0].comment, 'Ñ');
    conn.close();
  });

  it('a command without an answer fails with CommandTimeoutError and discards the connection', async () => {
    const srv = await rawServer(() => undefined);
    const conn = await RouterOSConnection.open(options(srv.port, { commandTimeoutMs: 100 }));
    await assert.rejects(conn.command('/system/identity/print'), CommandTimeoutError);
    assert.equal(conn.closed, true);
  });

  it('a peer that never answers the login fails with ConnectError within the connect timeout', async () => {
    const srv = await rawServer(() => undefined, { login: false });
    await assert.rejects(RouterOSConnection.open(options(srv.port, { connectTimeoutMs: 150 })), (err: unknown) => err instanceof ConnectError && err.reason === 'unreachable');
  });

  it('a refused login is ConnectError(login)', async () => {
    // Answer the login with the real RouterOS refusal.
    const server2 = net.createServer((socket) => {
      const reader = new SentenceReader();
      socket.on('data', (c) => {
        for (const w of reader.push(c)) socket.write(Buffer.concat([encodeSentence(['!trap', '=message=invalid user name or password (6)', tagOf(w)]), encodeSentence(['!done', tagOf(w)])]));
      });
    });
    await new Promise<void>((r) => server2.listen(0, '127.0.0.1', () => r()));
    const port = (server2.address() as net.AddressInfo).port;
    await assert.rejects(RouterOSConnection.open(options(port)), (err: unknown) => err instanceof ConnectError && err.reason === 'login');
    server2.close();
  });

  it('a connection closed during a command fails it with ConnectionLostError', async () => {
    const srv = await rawServer((_w, _s, socket) => void socket.destroy());
    const conn = await RouterOSConnection.open(options(srv.port));
    await assert.rejects(conn.command('/system/identity/print'), ConnectionLostError);
  });

  it('a peer that is not a router (garbage bytes) is a ConnectError', async () => {
    const server = net.createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    await assert.rejects(RouterOSConnection.open(options(port)), ConnectError);
    server.close();
  });

  it('a refused TCP connection is ConnectError(unreachable) with a message that does not say why', async () => {
    const srv = await rawServer(() => undefined);
    const port = srv.port;
    await srv.close();
    await assert.rejects(RouterOSConnection.open(options(port)), (err: unknown) => {
      assert.ok(err instanceof ConnectError);
      assert.equal(err.reason, 'unreachable');
      assert.doesNotMatch(err.message, /ECONNREFUSED|refused|timeout/i);
      return true;
    });
  });
});

describe('RouterPool and circuit breaker', () => {
  const poolOpts = { max: 3, idleMs: 60_000, acquireTimeoutMs: 5000, breakerThreshold: 2, breakerCooldownMs: 60_000 };

  it('never opens more than max connections and reuses them', async () => {
    let inFlight = 0;
    let peak = 0;
    const srv = await rawServer(async (words, send) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await sleep(5);
      inFlight--;
      send(['!done', tagOf(words)]);
    });
    const pool = new RouterPool(options(srv.port), poolOpts);
    await Promise.all(Array.from({ length: 30 }, () => pool.use((c) => c.command('/system/identity/print'))));
    assert.ok(srv.accepted <= 3, `accepted ${srv.accepted}`);
    assert.ok(pool.peak <= 3);
    assert.ok(peak <= 3);
    await pool.use((c) => c.command('/system/identity/print'));
    assert.ok(srv.accepted <= 3, 'idle connections are reused');
    pool.close();
  });

  it('replaces a pooled connection the router dropped while idle', async () => {
    const srv = await rawServer((words, send) => send(['!done', tagOf(words)]));
    const pool = new RouterPool(options(srv.port), { ...poolOpts, max: 1 });
    await pool.use((c) => c.command('/system/identity/print'));
    for (const s of srv.sockets) s.destroy();
    await sleep(20);
    await pool.use((c) => c.command('/system/identity/print'));
    assert.equal(srv.accepted, 2);
    pool.close();
  });

  it('opens after N connection failures (no more attempts), then lets one trial through after the cooldown', async () => {
    const srv = await rawServer((words, send) => send(['!done', tagOf(words)]));
    const port = srv.port;
    let attempts = 0;
    const probe = net.createServer((s) => {
      attempts++;
      s.destroy();
    });
    await srv.close();
    await new Promise<void>((r) => probe.listen(port, '127.0.0.1', () => r()));
    const pool = new RouterPool(options(port), { ...poolOpts, breakerCooldownMs: 300 });
    for (let i = 0; i < 2; i++) await assert.rejects(pool.use((c) => c.command('/x')), ConnectError);
    assert.equal(attempts, 2);
    assert.equal(pool.breaker.state, 'open');
    await assert.rejects(pool.use((c) => c.command('/x')), ConnectError);
    assert.equal(attempts, 2, 'no connection attempt while open');
    await sleep(350);
    assert.equal(pool.breaker.state, 'half_open');
    await assert.rejects(pool.use((c) => c.command('/x')), ConnectError);
    assert.equal(attempts, 3, 'one trial in half-open state');
    assert.equal(pool.breaker.state, 'open');
    pool.close();
    await new Promise<void>((r) => probe.close(() => r()));
  });
});
