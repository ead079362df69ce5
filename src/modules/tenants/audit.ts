/** The audit log: who changed what, when and from where. Never holds secrets (callers pass safe details). */
import { and, count, desc, eq, type SQL } from 'drizzle-orm';
import type { FastifyRequest } from 'fastify';
import type { Executor, Orm } from '../../infra/db/index.js';
import { auditoria } from '../../infra/db/schema.js';
import { naiveIso } from '../../infra/time.js';
import { auditActor } from '../auth/guards.js';

export interface AuditActor {
  usuarioId: number | null;
  email: string | null;
  rol: string | null;
  ip: string | null;
}

export interface AuditEntry {
  accion: string;
  empresaId?: string | null;
  recurso?: string;
  recursoId?: string | number | null;
  detalles?: Record<string, unknown>;
}

// A belt to the callers' braces: any detail whose key looks like a secret is replaced by a marker.
const SECRET_KEY = /pass|secret|token|private|api_?key|hash|contrasena|credential/i;

export function redactDetails(value: unknown, depth = 0): unknown {
  if (depth > 5) return '[…]';
  if (Array.isArray(value)) return value.map((v) => redactDetails(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // Lists of changed field NAMES (e.g. {campos: ['conekta_private_key']}) are fine; values are not.
      out[k] = SECRET_KEY.test(k) && typeof v !== 'boolean' ? '[oculto]' : redactDetails(v, depth + 1);
    }
    return out;
  }
  return value;
}

export interface AuditFilter {
  empresaId?: string;
  accion?: string;
}

export class AuditLog {
  constructor(private readonly orm: Orm) {}

  /** Record inside the caller's transaction when given, so the entry commits with the change. */
  async record(actor: AuditActor, entry: AuditEntry, executor: Executor = this.orm): Promise<void> {
    await executor.insert(auditoria).values({
      usuarioId: actor.usuarioId,
      usuarioEmail: actor.email,
      rol: actor.rol,
      empresaId: entry.empresaId ?? null,
      accion: entry.accion,
      recurso: entry.recurso ?? null,
      recursoId: entry.recursoId === undefined || entry.recursoId === null ? null : String(entry.recursoId),
      detalles: (redactDetails(entry.detalles ?? {}) as Record<string, unknown>) ?? {},
      ip: actor.ip?.slice(0, 64) ?? null,
    });
  }

  /** Newest first, with the total matching count (for X-Total-Count). */
  async list(filter: AuditFilter, limit: number, offset: number) {
    const conditions: SQL[] = [];
    if (filter.empresaId) conditions.push(eq(auditoria.empresaId, filter.empresaId));
    if (filter.accion) conditions.push(eq(auditoria.accion, filter.accion));
    const where = conditions.length > 0 ? and(...conditions) : undefined;
    const [rows, [{ total }]] = await Promise.all([
      this.orm.select().from(auditoria).where(where).orderBy(desc(auditoria.creadoEn), desc(auditoria.id)).limit(limit).offset(offset),
      this.orm.select({ total: count() }).from(auditoria).where(where),
    ]);
    return {
      total: Number(total),
      items: rows.map((r) => ({
        id: r.id,
        creado_en: naiveIso(r.creadoEn),
        usuario_id: r.usuarioId,
        usuario_email: r.usuarioEmail,
        rol: r.rol,
        empresa_id: r.empresaId,
        accion: r.accion,
        recurso: r.recurso,
        recurso_id: r.recursoId,
        detalles: r.detalles,
        ip: r.ip,
      })),
    };
  }
}

/**
 * Record an admin write made through an HTTP request (super admin or company admin): the actor and IP
 * come from the request. Pass the transaction of the change so both commit together.
 */
export async function auditRequest(request: FastifyRequest, entry: AuditEntry, executor?: Executor): Promise<void> {
  await request.server.ctx.audit.record(auditActor(request), entry, executor);
}
