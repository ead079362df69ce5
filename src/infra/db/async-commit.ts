/**
 * A CTE (`nowait`, one row) that makes its statement's commit asynchronous: `synchronous_commit = off` for
 * that transaction only. The write is committed and visible at once and reaches the disk within a fraction
 * of a second (the WAL writer), or with the next synchronous commit of any session, which flushes all the
 * WAL before it. A statement must reference `nowait` (an unreferenced SELECT CTE is never run).
 *
 * Only for writes whose loss to a database crash is already a handled case (each use says why); every
 * write before money moves (the attempt) stays synchronous. Each use saves a disk flush on the purchase
 * path (about 3 ms per commit on the 2-core benchmark machine, see bench/results.md).
 */
export const ASYNC_COMMIT_CTE = `nowait AS (SELECT set_config('synchronous_commit', 'off', true) AS c)`;
