/**
 * One RouterOS API session over TCP or TLS (API-SSL): connect, plain login (RouterOS >= 6.43), then
 * commands one at a time. Every command carries a `.tag`; replies with another tag (left over from a
 * command we gave up on) are ignored. A command that times out destroys the connection: its state is
 * unknown, and the pool must not hand it out again.
 */
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { attributeWord, encodeSentence, parseReply, ProtocolError, queryWord, SentenceReader, type ReplySentence } from './protocol.js';
import { CommandTimeoutError, ConnectError, ConnectionLostError, FatalError, RouterOSError, TrapError } from './errors.js';

export interface TlsOptions {
  /** PEM of the CA (or of the router's self-signed certificate): chain and host name are verified. */
  ca?: string | null;
  /** SHA-256 fingerprint of the router's certificate (hex, with or without ':'): pinned. */
  fingerprint?: string | null;
}

export interface ConnectionOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** false: plain TCP. An object: TLS; without ca/fingerprint the certificate is NOT verified (legacy). */
  tls: false | TlsOptions;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  maxWordBytes?: number;
}

export type Value = string | number | boolean;

export interface CommandOptions {
  /** `=key=value` arguments. */
  attrs?: Record<string, Value | null | undefined>;
  /** Equality queries `?=key=value` (ANDed). */
  query?: Record<string, string>;
  /** `.proplist`: the only properties returned. */
  proplist?: string[];
  timeoutMs?: number;
}

export interface CommandResult {
  /** `!re` rows: every value is a string, exactly as the router sent it. */
  rows: Array<Record<string, string>>;
  /** Attributes of `!done` (e.g. `ret` after `add`). */
  done: Record<string, string>;
  /** The router said `!empty` (RouterOS >= 7.18, a print with no rows). */
  empty: boolean;
}

interface Pending {
  tag: string;
  command: string;
  rows: Array<Record<string, string>>;
  traps: Array<Record<string, string>>;
  empty: boolean;
  resolve: (r: CommandResult) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export function normaliseFingerprint(fp: string): string {
  return fp.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
}

export class RouterOSConnection extends EventEmitter {
  private readonly reader: SentenceReader;
  private pending: Pending | null = null;
  private nextTag = 1;
  private closedError: Error | null = null;
  readonly createdAt = Date.now();
  lastUsed = Date.now();

  private constructor(private readonly socket: net.Socket, readonly opts: ConnectionOptions) {
    super();
    this.reader = new SentenceReader(opts.maxWordBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new ConnectionLostError(`la conexión con el router falló: ${err.message}`, { cause: err })));
    socket.on('close', () => this.fail(new ConnectionLostError()));
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  get busy(): boolean {
    return this.pending !== null;
  }

  /** Connect and log in within `connectTimeoutMs`, or fail with a ConnectError. */
  static async open(opts: ConnectionOptions): Promise<RouterOSConnection> {
    const deadline = Date.now() + opts.connectTimeoutMs;
    const socket = await connectSocket(opts);
    const conn = new RouterOSConnection(socket, opts);
    try {
      const left = Math.max(1, deadline - Date.now());
      await conn.command('/login', { attrs: { name: opts.user, password: opts.password }, timeoutMs: left });
      return conn;
    } catch (err) {
      conn.close();
      if (err instanceof TrapError) {
        throw new ConnectError('login', 'usuario o contraseña del router incorrectos', { cause: err });
      }
      if (err instanceof ProtocolError) throw new ConnectError('protocol', 'el equipo no respondió como un router MikroTik (API)', { cause: err });
      throw new ConnectError('unreachable', unreachableText(opts), { cause: err });
    }
  }

  /** Run one command (words are built from the options; values are sent as strings, booleans as yes/no). */
  command(path: string, options: CommandOptions = {}): Promise<CommandResult> {
    const words = [path];
    for (const [k, v] of Object.entries(options.attrs ?? {})) if (v !== null && v !== undefined) words.push(attributeWord(k, v));
    if (options.proplist?.length) words.push(attributeWord('.proplist', options.proplist.join(',')));
    for (const [k, v] of Object.entries(options.query ?? {})) words.push(queryWord(k, v));
    return this.raw(words, options.timeoutMs);
  }

  /** Run a command given as raw words (the first word is the command path). */
  raw(words: string[], timeoutMs = this.opts.commandTimeoutMs): Promise<CommandResult> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (this.pending) return Promise.reject(new RouterOSError('la conexión ya está ejecutando un comando'));
    const tag = String(this.nextTag++);
    const command = words[0];
    return new Promise<CommandResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        // The router may still answer later; the session is no longer trustworthy.
        this.pending = null;
        reject(new CommandTimeoutError(command, timeoutMs));
        this.close();
      }, timeoutMs);
      this.pending = { tag, command, rows: [], traps: [], empty: false, resolve, reject, timer };
      this.lastUsed = Date.now();
      try {
        this.socket.write(encodeSentence([...words, `.tag=${tag}`]));
      } catch (err) {
        this.finish(err instanceof Error ? err : new RouterOSError(String(err)));
      }
    });
  }

  close(): void {
    this.fail(new ConnectionLostError('la conexión con el router está cerrada'));
  }

  private onData(chunk: Buffer): void {
    let sentences: string[][];
    try {
      sentences = this.reader.push(chunk);
    } catch (err) {
      this.fail(err instanceof Error ? err : new ProtocolError(String(err)));
      return;
    }
    for (const words of sentences) this.onSentence(parseReply(words));
  }

  private onSentence(s: ReplySentence): void {
    if (s.type === '!fatal') {
      // The router ends the session after !fatal; its message is the first non-attribute word.
      const message = s.other[0] ?? s.attrs.message ?? 'sesión terminada por el router';
      this.fail(new FatalError(message));
      return;
    }
    const p = this.pending;
    if (!p || (s.tag !== null && s.tag !== p.tag)) return;
    switch (s.type) {
      case '!re':
        p.rows.push(s.attrs);
        break;
      case '!empty':
        p.empty = true;
        break;
      case '!trap':
        p.traps.push(s.attrs);
        break;
      case '!done':
        if (p.traps.length > 0) {
          const message = p.traps.map((t) => t.message ?? 'error desconocido').join(', ');
          this.finish(new TrapError(message, p.traps[0].category ?? null, p.traps));
        } else {
          this.finish(null, { rows: p.rows, done: s.attrs, empty: p.empty });
        }
        break;
      default:
        this.fail(new ProtocolError(`respuesta desconocida del router: ${s.type}`));
    }
  }

  private finish(err: Error | null, result?: CommandResult): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    clearTimeout(p.timer);
    this.lastUsed = Date.now();
    if (err) p.reject(err);
    else p.resolve(result!);
  }

  private flushPending(err: Error): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    clearTimeout(p.timer);
    p.reject(err);
  }

  private fail(err: Error): void {
    const first = !this.closedError;
    if (first) this.closedError = err;
    this.socket.destroy();
    this.flushPending(err);
    if (first) this.emit('closed');
  }
}

function unreachableText(opts: ConnectionOptions): string {
  return `no se pudo establecer la conexión con ${opts.host}:${opts.port} (sin respuesta o conexión rechazada)`;
}

/** TCP (or TLS) connect with a hard timeout; every failure becomes a ConnectError. */
function connectSocket(opts: ConnectionOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let socket: net.Socket;
    const done = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.removeAllListeners(opts.tls ? 'secureConnect' : 'connect');
      if (err) {
        socket.destroy();
        reject(err);
      } else {
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 30_000);
        resolve(socket);
      }
    };
    const timer = setTimeout(
      () => done(new ConnectError('unreachable', unreachableText(opts), { cause: new Error(`timeout ${opts.connectTimeoutMs} ms`) })),
      opts.connectTimeoutMs,
    );
    if (opts.tls) {
      const t = opts.tls;
      const fingerprint = t.fingerprint ? normaliseFingerprint(t.fingerprint) : null;
      const verifyChain = !!t.ca;
      const s = tls.connect({
        host: opts.host,
        port: opts.port,
        servername: net.isIP(opts.host) ? undefined : opts.host,
        ca: t.ca ?? undefined,
        // Without a CA we cannot verify the chain; a pinned fingerprint is checked below instead.
        rejectUnauthorized: verifyChain,
        // RouterOS API-SSL on older versions only offers TLS 1.2.
        minVersion: 'TLSv1.2',
      });
      socket = s;
      s.once('secureConnect', () => {
        if (fingerprint) {
          const raw = s.getPeerCertificate()?.raw;
          const actual = raw ? normaliseFingerprint(new X509Certificate(raw).fingerprint256) : '';
          if (actual !== fingerprint) {
            done(new ConnectError('tls_certificate', 'el certificado TLS del router no coincide con la huella configurada'));
            return;
          }
        }
        done(null);
      });
      s.once('error', (err: NodeJS.ErrnoException) => {
        const certProblem = verifyChain && /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS_CERT|Hostname/i.test(`${err.code ?? ''} ${err.message}`);
        done(
          certProblem
            ? new ConnectError('tls_certificate', 'el certificado TLS del router no es válido para la CA configurada', { cause: err })
            : new ConnectError('unreachable', unreachableText(opts), { cause: err }),
        );
      });
    } else {
      socket = net.connect({ host: opts.host, port: opts.port });
      socket.once('connect', () => done(null));
      socket.once('error', (err) => done(new ConnectError('unreachable', unreachableText(opts), { cause: err })));
    }
  });
}

/** SHA-256 fingerprint (colon-separated upper-case hex) of a PEM certificate. */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}
