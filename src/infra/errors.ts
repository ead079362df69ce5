/** Every error the API answers is `{"detail", "code"}`; this is how domain code raises one. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly detail: string,
    readonly code: string,
    readonly headers: Record<string, string> = {},
    /** Extra fields merged into the body (e.g. a purchase's `referencia`). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = 'ApiError';
  }
}

export const badRequest = (detail: string, code = 'bad_request') => new ApiError(400, detail, code);
export const unauthorized = (detail: string, code = 'unauthorized') => new ApiError(401, detail, code);
export const forbidden = (detail: string, code = 'forbidden') => new ApiError(403, detail, code);
export const notFound = (detail: string, code = 'not_found') => new ApiError(404, detail, code);
export const conflict = (detail: string, code = 'conflict') => new ApiError(409, detail, code);
export const unavailable = (detail: string, code = 'unavailable') => new ApiError(503, detail, code);

/** A pydantic-style 422 item, for validation done in code rather than by the schema. */
export interface ValidationItem {
  type: string;
  loc: (string | number)[];
  msg: string;
  input?: unknown;
  ctx?: Record<string, unknown>;
}

export class ValidationFailed extends Error {
  constructor(readonly items: ValidationItem[]) {
    super(items.map((i) => i.msg).join('; '));
    this.name = 'ValidationFailed';
  }
}

/** PostgreSQL unique violation (23505), whatever the driver wraps it in. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = findPgError(err);
  return !!e && e.code === '23505' && (!constraint || e.constraint === constraint);
}

/** 22012: used on purpose by statements that must fail as a whole when a guard matches nothing. */
export function isDivisionByZero(err: unknown): boolean {
  return findPgError(err)?.code === '22012';
}

export function isForeignKeyViolation(err: unknown): boolean {
  return findPgError(err)?.code === '23503';
}

/** The error and its wrapped causes (drivers and Drizzle wrap PostgreSQL errors), outermost first. */
function* causes(err: unknown): Generator<{ code?: unknown; message?: unknown; constraint?: string; cause?: unknown }> {
  let cur: unknown = err;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    const c = cur as { code?: unknown; message?: unknown; constraint?: string; cause?: unknown };
    yield c;
    cur = c.cause;
  }
}

function findPgError(err: unknown): { code?: string; constraint?: string } | null {
  for (const c of causes(err)) {
    if (typeof c.code === 'string' && /^[0-9A-Z]{5}$/.test(c.code)) return c as { code: string; constraint?: string };
  }
  return null;
}

/**
 * The database is restarting or unreachable (connection refused/reset/terminated, admin shutdown,
 * "cannot connect now", pool timeout): a temporary 503, not a 500.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (const e of causes(err)) {
    const code = typeof e.code === 'string' ? e.code : '';
    // 08xxx connection exceptions, 57P0x shutdown/crash/cannot-connect-now, 3D000 the database is gone.
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '3D000') return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'].includes(code)) return true;
    const message = typeof e.message === 'string' ? e.message : '';
    if (/Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended unexpectedly/i.test(message)) return true;
  }
  return false;
}
