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
import { attributeWord, encodeSentence, parseReply, ProtocolError, queryWord, ReaderLimitError, SentenceReader, type ReplySentence } from './protocol.js';
import { CommandTimeoutError, ConnectError, ConnectionLostError, FatalError, ReplyTooLargeError, RouterOSError, TrapError } from './errors.js';

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
  /** Caps on one reply (defaults: REPLY_LIMITS). Over a cap the reply is refused and the connection closed. */
  limits?: Partial<ReplyLimits>;
  /**
   * Where to connect for `host`: resolves the name and checks the address against the allowed router
   * networks (throws a ConnectError 'forbidden_network'). Without it, `host` is dialled as given.
   */
  resolveAddress?: (host: string, port: number) => Promise<string>;
}

export interface ReplyLimits {
  /** Bytes received for one command (every sentence of its reply, and anything unsolicited meanwhile). */
  maxReplyBytes: number;
  /** `!re` rows of one reply. */
  maxReplyRows: number;
  /** Longest single word. */
  maxWordBytes: number;
}

/** The /login answer is `!done` (or a `!trap` with its message): anything near this is not a router. */
export const LOGIN_REPLY_BYTES = 64 * 1024;

/** A few MB: a print of 50 000 hotspot users with a short proplist stays well under these. */
export const REPLY_LIMITS: ReplyLimits = { maxReplyBytes: 8 * 1024 * 1024, maxReplyRows: 100_000, maxWordBytes: 1024 * 1024 };

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
  private readonly limits: ReplyLimits;
  /** Bytes received since the current command was sent. */
  private replyBytes = 0;
  /** Until logged in, replies are capped much lower (a real /login answer is a few bytes). */
  private loggingIn = true;
  readonly createdAt = Date.now();
  lastUsed = Date.now();

  private constructor(private readonly socket: net.Socket, readonly opts: ConnectionOptions) {
    super();
    this.limits = { ...REPLY_LIMITS, ...opts.limits };
    this.reader = new SentenceReader({ maxWordBytes: this.limits.maxWordBytes });
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
    // Checked on every connect, after DNS resolution: we dial the address that was checked.
    const address = opts.resolveAddress ? await opts.resolveAddress(opts.host, opts.port) : opts.host;
    const socket = await connectSocket(opts, address);
    const conn = new RouterOSConnection(socket, opts);
    try {
      const left = Math.max(1, deadline - Date.now());
      await conn.command('/login', { attrs: { name: opts.user, password: opts.password }, timeoutMs: left });
      conn.loggingIn = false;
      return conn;
    } catch (err) {
      conn.close();
      if (err instanceof TrapError) {
        throw new ConnectError('login', 'usuario o contraseña del router incorrectos', { cause: err });
      }
      if (err instanceof ReplyTooLargeError) throw new ConnectError('reply_too_large', `el router envió una respuesta demasiado grande al iniciar sesión (${err.message})`, { cause: err });
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
      this.replyBytes = 0;
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
    if (this.closedError) return;
    this.replyBytes += chunk.length;
    const cap = this.loggingIn ? Math.min(LOGIN_REPLY_BYTES, this.limits.maxReplyBytes) : this.limits.maxReplyBytes;
    if (this.replyBytes > cap) {
      this.fail(new ReplyTooLargeError(`respuesta de más de ${cap} bytes`));
      return;
    }
    let sentences: string[][];
    try {
      sentences = this.reader.push(chunk);
    } catch (err) {
      this.fail(err instanceof ReaderLimitError ? new ReplyTooLargeError(err.message) : err instanceof Error ? err : new ProtocolError(String(err)));
      return;
    }
    for (const words of sentences) {
      if (this.closedError) return;
      this.onSentence(parseReply(words));
    }
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
        if (p.rows.length >= this.limits.maxReplyRows) {
          this.fail(new ReplyTooLargeError(`respuesta de más de ${this.limits.maxReplyRows} filas`));
          return;
        }
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
function connectSocket(opts: ConnectionOptions, address: string): Promise<net.Socket> {
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
        host: address,
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
        if (anonymousOnly(err)) {
          done(new ConnectError('tls_anonymous', TLS_ANONYMOUS_TEXT, { cause: err }));
          return;
        }
        const certProblem = verifyChain && /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS_CERT|Hostname/i.test(`${err.code ?? ''} ${err.message}`);
        done(
          certProblem
            ? new ConnectError('tls_certificate', 'el certificado TLS del router no es válido para la CA configurada', { cause: err })
            : new ConnectError('unreachable', unreachableText(opts), { cause: err }),
        );
      });
    } else {
      socket = net.connect({ host: address, port: opts.port });
      socket.once('connect', () => done(null));
      socket.once('error', (err) => done(new ConnectError('unreachable', unreachableText(opts), { cause: err })));
    }
  });
}

/**
 * RouterOS API-SSL without a certificate assigned offers only anonymous Diffie-Hellman ciphers (ADH),
 * which authenticate nobody; we refuse them (a man in the middle would get the router password) and say
 * what to configure instead of reporting the router as unreachable.
 */
export const TLS_ANONYMOUS_TEXT =
  'el router ofrece API-SSL sin certificado (cifrado anónimo, no verificable): asigne un certificado al servicio api-ssl del router ' +
  '(/ip service set api-ssl certificate=<certificado>) y configure su CA o su huella aquí, o use la API sin TLS (puerto 8728) solo dentro de una VPN';

function anonymousOnly(err: NodeJS.ErrnoException): boolean {
  // The server picked no cipher we offer: OpenSSL reports a handshake failure alert (or "no shared cipher").
  return /HANDSHAKE_FAILURE|no shared cipher|NO_SHARED_CIPHER|NO_CIPHERS|handshake failure/i.test(`${err.code ?? ''} ${err.message}`);
}

/** SHA-256 fingerprint (colon-separated upper-case hex) of a PEM certificate. */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}
