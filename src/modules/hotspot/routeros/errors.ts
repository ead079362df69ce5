/**
 * Client errors. `ConnectError` covers everything that prevents a usable session (refused, timeout, TLS,
 * login); its `message` is deliberately coarse (no refused-vs-timeout distinction, so a tenant cannot use a
 * router row as a port scanner) while `cause` keeps the detail for the logs.
 */

export type ConnectFailure =
  | 'unreachable'
  | 'tls_certificate'
  | 'tls_anonymous'
  | 'login'
  | 'missing_data'
  | 'breaker_open'
  | 'protocol'
  | 'reply_too_large'
  | 'forbidden_network'
  | 'busy';

export class RouterOSError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RouterOSError';
  }
}

export class ConnectError extends RouterOSError {
  constructor(readonly reason: ConnectFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConnectError';
  }
}

/** The router answered `!trap`; `category` is RouterOS' numeric category when given. */
export class TrapError extends RouterOSError {
  constructor(message: string, readonly category: string | null, readonly traps: Array<Record<string, string>> = []) {
    super(message);
    this.name = 'TrapError';
  }
}

/** The router answered `!fatal` and closed the session. */
export class FatalError extends RouterOSError {
  constructor(message: string) {
    super(message);
    this.name = 'FatalError';
  }
}

/** A command got no complete answer within its timeout (the connection is discarded). */
export class CommandTimeoutError extends RouterOSError {
  constructor(readonly command: string, readonly timeoutMs: number) {
    super(`el router no respondió a ${command} en ${timeoutMs} ms`);
    this.name = 'CommandTimeoutError';
  }
}

/** The connection broke while a command was running (or before it was sent). */
export class ConnectionLostError extends RouterOSError {
  constructor(message = 'la conexión con el router se cerró', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConnectionLostError';
  }
}

/** A reply went over a cap (bytes, rows or word length): refused, and the connection is closed. */
export class ReplyTooLargeError extends RouterOSError {
  constructor(message: string) {
    super(message);
    this.name = 'ReplyTooLargeError';
  }
}

/** Errors that mean "the router cannot be used right now" (as opposed to a refused command). */
export function isUnreachable(err: unknown): boolean {
  return err instanceof ConnectError || err instanceof CommandTimeoutError || err instanceof ConnectionLostError || err instanceof FatalError || err instanceof ReplyTooLargeError;
}
