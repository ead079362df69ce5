/** JSON over fetch with a hard timeout, telling "no answer" apart from "an answer we did not like". */

export type HttpOutcome =
  | { kind: 'response'; status: number; json: unknown; text: string }
  | { kind: 'timeout' }
  | { kind: 'network'; message: string };

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
}

export async function requestJson(req: HttpRequest): Promise<HttpOutcome> {
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      signal: AbortSignal.timeout(req.timeoutMs),
    });
  } catch (err) {
    return transportFailure(err);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    // Headers arrived but the body did not: the request was processed, the answer is lost.
    return transportFailure(err);
  }
  let json: unknown;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    json = null;
  }
  return { kind: 'response', status: res.status, json, text };
}

function transportFailure(err: unknown): HttpOutcome {
  const e = err as { name?: string; message?: string; cause?: { code?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return { kind: 'timeout' };
  return { kind: 'network', message: e?.cause?.code ?? e?.message ?? 'error de red' };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function str(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}
