/**
 * Paging of the admin lists. The legacy answered bare arrays with everything; we keep the array as the
 * body (old clients parse it unchanged) and bound it with `limit`/`offset`, telling the total in the
 * `X-Total-Count` header. Out-of-range values are 422 by the schema.
 */
import { Type, type Static } from 'typebox';
import type { FastifyReply } from 'fastify';

export const PAGE_DEFAULT = 100;
export const PAGE_MAX = 500;
export const OFFSET_MAX = 10_000_000;

export const PagingQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: PAGE_MAX, default: PAGE_DEFAULT, description: `Máximo de elementos (1–${PAGE_MAX})` }),
  offset: Type.Integer({ minimum: 0, maximum: OFFSET_MAX, default: 0, description: 'Elementos a saltar' }),
});
export type Paging = Static<typeof PagingQuery>;

export const TOTAL_HEADER = 'x-total-count';

export function sendTotal(reply: FastifyReply, total: number): void {
  reply.header(TOTAL_HEADER, String(total));
  reply.header('access-control-expose-headers', 'X-Total-Count');
}

/** Paging for lists the legacy answered whole: without `limit` and `offset` they still answer everything. */
export const OptionalPaging = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_MAX, description: `Máximo de elementos (1–${PAGE_MAX}); sin él, todos` })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: OFFSET_MAX, description: 'Elementos a saltar' })),
});

export function pageOf<T>(items: T[], q: { limit?: number; offset?: number }): T[] {
  if (q.limit === undefined && q.offset === undefined) return items;
  const offset = q.offset ?? 0;
  return items.slice(offset, offset + (q.limit ?? PAGE_MAX));
}
