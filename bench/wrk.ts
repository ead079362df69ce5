import { spawnSync } from 'node:child_process';

/** Whether `wrk` is on PATH (`.ci/run` installs Debian's package). */
export function hasWrk(): boolean {
  return spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;
}
