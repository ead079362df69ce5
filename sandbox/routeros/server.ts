/**
 * RouterOS API simulator: a real TCP (or TLS, API-SSL) server speaking the binary API with plain login,
 * tags, `!re/!done/!trap/!fatal` and, in RouterOS >= 7.18 mode, `!empty`. Used by tests and the demo.
 *
 * Scripted failures: refuse connections (stop listening), hang (accept, never answer), slow replies,
 * traps or hangs on given commands, a `!fatal` on a command, login sessions that never appear. Every
 * command received is recorded (`commands`), every script run with what it executed (`state.scriptRuns`),
 * and the connection count (current/peak) is tracked.
 */
import net from 'node:net';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeLength, encodeSentence, encodeWord, SentenceReader } from '../../src/modules/hotspot/routeros/protocol.js';
import { SimState, SimTrap, type Row, type SimVersion } from './state.js';
import { simulatorCertificate, type SimCertificate } from './cert.js';

export interface SimulatorOptions {
  version?: '6' | '7';
  /** Full version string (default `6.49.10 (long-term)` / `7.18.2 (stable)`). */
  versionString?: string;
  /** `!empty` on empty prints; default: on for v7 >= 7.18. */
  emptyReply?: boolean;
  tls?: boolean;
  host?: string;
  port?: number;
  /** API credentials (default admin / xyz). */
  username?: string;
  password?: string;
  identity?: string;
  users?: Row[];
  profiles?: Row[];
  hosts?: Array<{ 'mac-address': string; address: string; 'to-address'?: string }>;
  /**
   * API-SSL without a certificate (what RouterOS does when api-ssl has none assigned): only anonymous
   * Diffie-Hellman ciphers, TLS 1.2 (MikroTik wiki, "API-SSL": "if no certificate is set, ADH is used").
   */
  tlsAnonymous?: boolean;
}

/**
 * A hostile "router" (issue 12): answers the command `on` with
 * - `huge-word`: one sentence of one word declaring `bytes` and streaming them;
 * - `rows`: `!re` rows of `rowBytes` each until `bytes` were sent (or forever without `bytes`), no `!done`
 *   (a 150 MB /login reply of 1 MB rows took RSS from 133 to 331 MB before the reply caps);
 * - `many-words`: one sentence of tiny words, `bytes` in total, never ended.
 * Writes respect backpressure and stop when the client hangs up.
 */
export type Misbehaviour =
  | { kind: 'huge-word'; on: string; bytes: number }
  | { kind: 'rows'; on: string; rowBytes?: number; bytes?: number }
  | { kind: 'many-words'; on: string; bytes: number };

export interface RecordedCommand {
  connection: number;
  command: string;
  words: string[];
}

interface TrapRule {
  command: string;
  message: string;
  category?: string;
  remaining: number;
}

export interface RouterSimulator {
  host: string;
  port: number;
  tls: SimCertificate | null;
  state: SimState;
  commands: RecordedCommand[];
  connections: { current: number; peak: number; total: number };
  credentials: { username: string; password: string };
  /** Stop accepting connections (clients get "connection refused"); `accept()` listens again. */
  refuse(): Promise<void>;
  accept(): Promise<void>;
  /** Accept connections but never answer anything (`false` to stop). */
  hang(on?: boolean): void;
  /** Delay every reply by `ms`. */
  slow(ms: number): void;
  /** Never answer this command (after login). */
  hangOn(command: string): void;
  /** Answer `!trap` to this command (`times` times, default always). */
  trapOn(command: string, message: string, opts?: { times?: number; category?: string }): void;
  /** Answer `!fatal` (and close) to this command. */
  fatalOn(command: string, message?: string): void;
  /** Misbehave on a command (see Misbehaviour); null: behave. */
  misbehave(m: Misbehaviour | null): void;
  /** Bytes the misbehaviour has written so far (all connections). */
  readonly hostileBytes: number;
  clearFailures(): void;
  /** Commands received, optionally only those with this path. */
  received(command?: string): RecordedCommand[];
  /** Statements scripts executed other than the hotspot login (injected code). */
  injected(): string[];
  resetStats(): void;
  close(): Promise<void>;
}

export async function startRouterSimulator(opts: SimulatorOptions = {}): Promise<RouterSimulator> {
  const major = opts.version === '6' ? 6 : 7;
  const versionString = opts.versionString ?? (major === 6 ? '6.49.10 (long-term)' : '7.18.2 (stable)');
  const [vMaj, vMin] = versionString.split(/[.\s]/).map((x) => parseInt(x, 10));
  const version: SimVersion = { major, version: versionString, emptyReply: opts.emptyReply ?? (vMaj > 7 || (vMaj === 7 && vMin >= 18)) };
  const state = new SimState(version);
  if (opts.identity) state.identity = opts.identity;
  for (const p of opts.profiles ?? []) state.addProfile(p);
  for (const u of opts.users ?? []) state.addUser(u);
  for (const h of opts.hosts ?? []) state.addHost(h);

  const credentials = { username: opts.username ?? 'admin', password: opts.password ?? 'xyz' };
  const cert = opts.tls && !opts.tlsAnonymous ? await simulatorCertificate() : null;
  const host = opts.host ?? '127.0.0.1';
  const commands: RecordedCommand[] = [];
  const connections = { current: 0, peak: 0, total: 0 };
  const sockets = new Set<net.Socket>();
  let hanging = false;
  let delayMs = 0;
  const hangCommands = new Set<string>();
  const fatalCommands = new Map<string, string>();
  let traps: TrapRule[] = [];
  let hostile: Misbehaviour | null = null;
  let hostileBytes = 0;

  /** Write with backpressure; false once the client is gone. */
  const pump = async (socket: net.Socket, data: Buffer): Promise<boolean> => {
    if (socket.destroyed || !socket.writable) return false;
    hostileBytes += data.length;
    if (socket.write(data)) return true;
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        socket.off('drain', onDrain);
        socket.off('close', onClose);
        resolve(ok);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      socket.once('drain', onDrain);
      socket.once('close', onClose);
    });
  };

  const misbehave = async (socket: net.Socket, m: Misbehaviour) => {
    const CHUNK = 64 * 1024;
    if (m.kind === 'huge-word') {
      if (!(await pump(socket, encodeLength(m.bytes)))) return;
      const block = Buffer.alloc(CHUNK, 0x41);
      for (let sent = 0; sent < m.bytes; sent += CHUNK) if (!(await pump(socket, sent + CHUNK <= m.bytes ? block : block.subarray(0, m.bytes - sent)))) return;
      // End the sentence: a reader that took the whole word sees a reply it does not know.
      await pump(socket, Buffer.from([0]));
      return;
    }
    if (m.kind === 'rows') {
      const row = encodeSentence(['!re', `=name=${'x'.repeat(Math.max(1, (m.rowBytes ?? 64) - 10))}`]);
      const batch = Buffer.concat(Array.from({ length: Math.max(1, Math.floor(CHUNK / row.length)) }, () => row));
      for (let sent = 0; m.bytes === undefined || sent < m.bytes; sent += batch.length) if (!(await pump(socket, batch))) return;
      return;
    }
    const word = encodeWord('x');
    const batch = Buffer.concat(Array.from({ length: Math.floor(CHUNK / word.length) }, () => word));
    for (let sent = 0; sent < m.bytes; sent += batch.length) if (!(await pump(socket, batch))) return;
  };

  const handle = (socket: net.Socket) => {
    const id = ++connections.total;
    connections.current++;
    connections.peak = Math.max(connections.peak, connections.current);
    sockets.add(socket);
    let loggedIn = false;
    let chain = Promise.resolve();
    const reader = new SentenceReader();
    const write = (words: string[]) => {
      if (!socket.destroyed) socket.write(encodeSentence(words));
    };
    socket.on('close', () => {
      connections.current--;
      sockets.delete(socket);
    });
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      let sentences: string[][];
      try {
        sentences = reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const words of sentences) {
        chain = chain.then(() => respond(words)).catch(() => void socket.destroy());
      }
    });

    const respond = async (words: string[]) => {
      if (hanging) return;
      const [command, ...rest] = words;
      commands.push({ connection: id, command, words });
      const attrs: Row = {};
      const queries: string[] = [];
      let tag: string | null = null;
      for (const w of rest) {
        if (w.startsWith('=')) {
          const eq = w.indexOf('=', 1);
          if (eq < 0) attrs[w.slice(1)] = '';
          else attrs[w.slice(1, eq)] = w.slice(eq + 1);
        } else if (w.startsWith('?')) queries.push(w);
        else if (w.startsWith('.tag=')) tag = w.slice(5);
      }
      const tagged = (s: string[]) => (tag === null ? s : [...s, `.tag=${tag}`]);
      if (delayMs > 0) await sleep(delayMs);
      if (hanging) return;
      if (hostile && command === hostile.on) {
        await misbehave(socket, hostile);
        return;
      }

      if (command === '/login') {
        if (attrs.name === credentials.username && attrs.password === credentials.password) {
          loggedIn = true;
          write(tagged(['!done']));
        } else {
          write(tagged(['!trap', '=message=invalid user name or password (6)']));
          write(tagged(['!done']));
        }
        return;
      }
      if (!loggedIn) {
        write(tagged(['!trap', '=message=not logged in', '=category=5']));
        write(tagged(['!done']));
        return;
      }
      if (command === '/quit') {
        write(['!fatal', 'session terminated on request']);
        socket.end();
        return;
      }
      if (command === '/cancel') {
        write(tagged(['!done']));
        return;
      }
      if (hangCommands.has(command)) return;
      const fatal = fatalCommands.get(command);
      if (fatal !== undefined) {
        write(['!fatal', fatal]);
        socket.end();
        return;
      }
      const rule = traps.find((t) => t.command === command && t.remaining > 0);
      if (rule) {
        rule.remaining--;
        write(tagged(['!trap', ...(rule.category ? [`=category=${rule.category}`] : []), `=message=${rule.message}`]));
        write(tagged(['!done']));
        return;
      }
      try {
        const reply = state.execute(command, attrs, queries);
        for (const row of reply.rows) write(tagged(['!re', ...Object.entries(row).map(([k, v]) => `=${k}=${v}`)]));
        if (reply.empty) write(tagged(['!empty']));
        write(tagged(['!done', ...Object.entries(reply.done).map(([k, v]) => `=${k}=${v}`)]));
      } catch (err) {
        if (!(err instanceof SimTrap)) throw err;
        write(tagged(['!trap', ...(err.category ? [`=category=${err.category}`] : []), `=message=${err.message}`]));
        write(tagged(['!done']));
      }
    };
  };

  const server: net.Server = opts.tlsAnonymous
    ? tls.createServer({ ciphers: 'ADH-AES256-GCM-SHA384:ADH-AES128-SHA256:ADH-AES256-SHA:@SECLEVEL=0', maxVersion: 'TLSv1.2', noDelay: true }, (s) => handle(s))
    : cert
      ? tls.createServer({ key: cert.key, cert: cert.cert, noDelay: true }, (s) => handle(s))
      : net.createServer({ noDelay: true }, (s) => handle(s));
  server.on('error', () => undefined);
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
  await listen(opts.port ?? 0);
  const port = (server.address() as net.AddressInfo).port;

  const sim: RouterSimulator = {
    host,
    port,
    tls: cert,
    state,
    commands,
    connections,
    credentials,
    async refuse() {
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async accept() {
      if (!server.listening) await listen(port);
    },
    hang(on = true) {
      hanging = on;
    },
    slow(ms) {
      delayMs = ms;
    },
    hangOn(command) {
      hangCommands.add(command);
    },
    trapOn(command, message, o = {}) {
      traps.push({ command, message, category: o.category, remaining: o.times ?? Infinity });
    },
    fatalOn(command, message = 'session terminated on request') {
      fatalCommands.set(command, message);
    },
    misbehave(m) {
      hostile = m;
    },
    get hostileBytes() {
      return hostileBytes;
    },
    clearFailures() {
      hanging = false;
      delayMs = 0;
      hangCommands.clear();
      fatalCommands.clear();
      traps = [];
      hostile = null;
      state.loginCreatesSession = true;
    },
    received(command) {
      return command ? commands.filter((c) => c.command === command) : [...commands];
    },
    injected() {
      return state.scriptRuns.flatMap((r) => r.outcome.executed);
    },
    resetStats() {
      commands.length = 0;
      connections.peak = connections.current;
    },
    async close() {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return sim;
}
