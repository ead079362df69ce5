/**
 * The signed-in admin: the API's session token, kept in sessionStorage (this tab only, gone when it
 * closes; never localStorage) and in memory. A 401 from the API ends it with a message for sign-in.
 */
export interface SessionUser {
  id: number;
  email: string;
  nombre: string;
  rol: string;
  empresa_id: string | null;
}

export interface Session {
  token: string;
  expiresAt: string;
  user: SessionUser;
}

const KEY = 'pagos-hotspot.panel.sesion';
const NOTICE_KEY = 'pagos-hotspot.panel.aviso';

let current: Session | null = read();
const listeners = new Set<() => void>();

function read(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    if (!s.token || !s.user || Date.parse(s.expiresAt) <= Date.now()) return null;
    return s;
  } catch {
    return null;
  }
}

export function getSession(): Session | null {
  return current;
}

export function setSession(s: Session | null, notice?: string): void {
  current = s;
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
  if (notice) sessionStorage.setItem(NOTICE_KEY, notice);
  for (const l of listeners) l();
}

/** The message for the sign-in screen (read once). */
export function takeNotice(): string | null {
  const n = sessionStorage.getItem(NOTICE_KEY);
  sessionStorage.removeItem(NOTICE_KEY);
  return n;
}

export function subscribe(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export const isSuperAdmin = (s: Session | null) => s?.user.rol === 'super_admin';
