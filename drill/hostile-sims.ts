/**
 * Child process of the hostile-router drill phase: the misbehaving simulators (and one well-behaved one)
 * run here, so that pushing gigabytes does not slow down the drill process that measures `/health`.
 * Prints one JSON line `{ hostile: number[], good: number, host }` when listening; runs until killed.
 */
import { startRouterSimulator, type Misbehaviour, type RouterSimulator } from '../sandbox/routeros/index.js';

const MB = 1024 * 1024;
export const BEHAVIOURS: Misbehaviour[] = [
  { kind: 'rows', on: '/login', rowBytes: MB, bytes: 150 * MB },
  { kind: 'huge-word', on: '/login', bytes: 150 * MB },
  { kind: 'many-words', on: '/login', bytes: 150 * MB },
  { kind: 'rows', on: '/system/identity/print', rowBytes: 4096 },
];

const sims: RouterSimulator[] = [];
for (const b of BEHAVIOURS) {
  const sim = await startRouterSimulator({ version: '7' });
  sim.misbehave(b);
  sims.push(sim);
}
const good = await startRouterSimulator({ version: '7' });
sims.push(good);
process.stdout.write(JSON.stringify({ host: good.host, hostile: sims.slice(0, -1).map((s) => s.port), good: good.port }) + '\n');
const stop = () => void Promise.all(sims.map((s) => s.close())).finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
