/**
 * Build the operators' panel (web/ → web/dist) when it is missing or older than its sources: used by
 * `npm run demo` at start and by the panel's browser tests. Test files run in parallel, so one build at a
 * time (a lock directory; mkdir is atomic), and the others wait for it and then find the build fresh.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = fileURLToPath(new URL('../web', import.meta.url));
export const PANEL_DIST = join(WEB_DIR, 'dist');
const LOCK = join(WEB_DIR, '.build-lock');
const STALE_LOCK_MS = 5 * 60_000;

function newestSource(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    newest = Math.max(newest, st.isDirectory() ? newestSource(p) : st.mtimeMs);
  }
  return newest;
}

export function panelIsFresh(): boolean {
  const index = join(PANEL_DIST, 'index.html');
  if (!existsSync(index)) return false;
  const sources = Math.max(newestSource(join(WEB_DIR, 'src')), statSync(join(WEB_DIR, 'index.html')).mtimeMs, statSync(join(WEB_DIR, 'vite.config.ts')).mtimeMs);
  return statSync(index).mtimeMs >= sources;
}

/** Build unless fresh; returns whether this call built it. */
export async function ensurePanelBuilt(log: (line: string) => void = () => undefined): Promise<boolean> {
  for (;;) {
    if (panelIsFresh()) return false;
    try {
      mkdirSync(LOCK);
    } catch {
      // Someone else is building: wait for the lock to go (or to go stale after a crash).
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        /* gone meanwhile */
      }
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    try {
      if (panelIsFresh()) return false;
      log('Compilando el panel (web/ → web/dist)…');
      const { build } = await import('vite');
      await build({ configFile: join(WEB_DIR, 'vite.config.ts'), logLevel: 'warn' });
      return true;
    } finally {
      rmSync(LOCK, { recursive: true, force: true });
    }
  }
}
