/**
 * The typed API client: openapi-fetch over the paths generated from our own /openapi.json
 * (schema.d.ts, `npm run gen:panel-api`). Adds the session token; a 401 on an authenticated call means the
 * session expired or was revoked: back to sign-in with a message.
 */
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';
import { getSession, setSession } from '../session';

export const EXPIRED = 'Tu sesión expiró o fue cerrada. Inicia sesión de nuevo.';

const auth: Middleware = {
  onRequest({ request }) {
    const s = getSession();
    if (s) request.headers.set('authorization', `Bearer ${s.token}`);
    return request;
  },
  onResponse({ request, response }) {
    if (response.status === 401 && request.headers.has('authorization') && getSession()) {
      setSession(null, EXPIRED);
    }
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: location.origin });
api.use(auth);

/** An API error with the API's `detail` as its message. */
export class ApiProblem extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** The API's `detail` as a sentence (a string, or the 422 list of {loc, msg}). */
export function detailText(body: unknown, status: number): string {
  const d = (body as { detail?: unknown } | null)?.detail;
  if (typeof d === 'string' && d) return d;
  if (Array.isArray(d)) {
    return d
      .map((i: { loc?: unknown[]; msg?: string }) => {
        const field = Array.isArray(i.loc) ? i.loc.filter((x) => x !== 'body' && x !== 'query' && x !== 'path').join('.') : '';
        return field ? `${field}: ${i.msg ?? 'inválido'}` : (i.msg ?? 'inválido');
      })
      .join('; ');
  }
  if (status === 0) return 'No se pudo contactar al servidor';
  return `Error ${status}`;
}

/** openapi-fetch's result → its data, or throw ApiProblem with the API's detail. */
export function unwrap<T>(r: { data?: T; error?: unknown; response: Response }): T {
  if (r.error !== undefined || !r.response.ok) {
    throw new ApiProblem(detailText(r.error, r.response.status), r.response.status, (r.error as { code?: string } | undefined)?.code);
  }
  return r.data as T;
}

/** `X-Total-Count` of a paged list. */
export function totalOf(r: { response: Response }, fallback: number): number {
  const n = Number(r.response.headers.get('x-total-count'));
  return Number.isFinite(n) && r.response.headers.has('x-total-count') ? n : fallback;
}

/**
 * A download with progress (CSV of a year, portal kit): fetch with the session, read the body in chunks
 * reporting bytes, then hand the file to the browser.
 */
export async function download(url: string, fallbackName: string, onProgress: (bytes: number, total: number | null) => void): Promise<void> {
  const s = getSession();
  const res = await fetch(url, { headers: s ? { authorization: `Bearer ${s.token}` } : {} });
  if (res.status === 401 && s) setSession(null, EXPIRED);
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    throw new ApiProblem(detailText(body, res.status), res.status);
  }
  const total = Number(res.headers.get('content-length')) || null;
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const reader = res.body?.getReader();
  if (reader) {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      bytes += value.length;
      onProgress(bytes, total);
    }
  }
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const blob = new Blob(chunks as BlobPart[], { type: res.headers.get('content-type') ?? 'application/octet-stream' });
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}
