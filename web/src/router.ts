/** Hash routes (`#/transacciones/12`): the service serves one index.html, the panel picks the screen. */
import { useSyncExternalStore } from 'react';

function subscribe(cb: () => void) {
  window.addEventListener('hashchange', cb);
  return () => window.removeEventListener('hashchange', cb);
}

export function usePath(): string {
  return useSyncExternalStore(subscribe, () => location.hash.replace(/^#/, '') || '/');
}

export function navigate(path: string): void {
  if (location.hash !== `#${path}`) location.hash = path;
}

/** `/a/:id` against `/a/12` → { id: '12' } or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/');
  const s = path.split('?')[0].split('/');
  if (p.length !== s.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(':')) out[p[i].slice(1)] = decodeURIComponent(s[i]);
    else if (p[i] !== s[i]) return null;
  }
  return out;
}
