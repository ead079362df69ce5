/** The audit log: who changed what, when and from where. Never holds secrets (callers pass safe details). */
import type { Executor, Orm } from '../../infra/db/index.js';
import { auditoria } from '../../infra/db/schema.js';

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
      detalles: entry.detalles ?? {},
      ip: actor.ip,
    });
  }
}
