/** Small accessible building blocks: labelled fields, errors read out by screen readers, paging, dialogs. */
import { useEffect, useId, useRef, useState, type ReactNode, type InputHTMLAttributes, type SelectHTMLAttributes } from 'react';

const money = new Intl.NumberFormat('es-MX', { style: 'currency', currency: 'MXN' });
export const fmtMoney = (n: number | null | undefined) => (n === null || n === undefined ? '—' : money.format(n));
/** The platform's default zone (a company's `zona_horaria` default; the super admin's screens). */
export const DEFAULT_ZONE = 'America/Mexico_City';
let zone = DEFAULT_ZONE;
let dt = new Intl.DateTimeFormat('es-MX', { dateStyle: 'short', timeStyle: 'short', timeZone: zone });
/**
 * The zone times are shown in: the signed-in company's `zona_horaria` (set by the shell before its
 * screens render); storage and the API stay UTC. An unknown name keeps the previous zone.
 */
export function setDisplayZone(z: string): void {
  if (z === zone) return;
  try {
    dt = new Intl.DateTimeFormat('es-MX', { dateStyle: 'short', timeStyle: 'short', timeZone: z });
    zone = z;
  } catch {
    // Not a zone this browser knows: keep showing the previous one.
  }
}
export const displayZone = () => zone;
/** API timestamps: ISO with Z, or the legacy naive UTC ("2026-01-02T03:04:05"), in the display zone. */
export function fmtDate(s: string | null | undefined): string {
  if (!s) return '—';
  const d = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(s) ? s : `${s}Z`);
  return Number.isNaN(d.getTime()) ? s : dt.format(d);
}
/** A zone name for people ("America/Mexico_City" → "America/Mexico City"). */
export const zoneLabel = (z: string) => z.replace(/_/g, ' ');

export function Page({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  const h = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Panel Pagos Hotspot`;
    // A new screen moves focus to its heading, so keyboard and screen-reader users know where they are.
    h.current?.focus();
  }, [title]);
  return (
    <section className="page" aria-labelledby="page-title">
      <div className="page-head">
        <h1 id="page-title" tabIndex={-1} ref={h}>
          {title}
        </h1>
        {actions ? <div className="page-actions">{actions}</div> : null}
      </div>
      {children}
    </section>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const text = error instanceof Error ? error.message : String(error);
  return (
    <p className="error" role="alert">
      {text}
    </p>
  );
}

export function Notice({ children }: { children: ReactNode }) {
  return (
    <p className="notice" role="status">
      {children}
    </p>
  );
}

export function Loading({ what = 'Cargando…' }: { what?: string }) {
  return (
    <p className="muted" role="status" aria-live="polite">
      {what}
    </p>
  );
}

type FieldProps = InputHTMLAttributes<HTMLInputElement> & { label: string; hint?: string };
export function Field({ label, hint, ...input }: FieldProps) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} aria-describedby={hint ? `${id}-h` : undefined} {...input} />
      {hint ? (
        <small id={`${id}-h`} className="muted">
          {hint}
        </small>
      ) : null}
    </div>
  );
}

type SelectProps = SelectHTMLAttributes<HTMLSelectElement> & { label: string; children: ReactNode };
export function Select({ label, children, ...select }: SelectProps) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} {...select}>
        {children}
      </select>
    </div>
  );
}

export function Check({ label, ...input }: InputHTMLAttributes<HTMLInputElement> & { label: string }) {
  const id = useId();
  return (
    <div className="field check">
      <input id={id} type="checkbox" {...input} />
      <label htmlFor={id}>{label}</label>
    </div>
  );
}

export const PAGE = 20;

export function Pager({ total, offset, limit = PAGE, onChange }: { total: number; offset: number; limit?: number; onChange: (offset: number) => void }) {
  if (total <= limit && offset === 0) return <p className="muted pager-info">{total} en total</p>;
  const from = total === 0 ? 0 : offset + 1;
  const to = Math.min(offset + limit, total);
  return (
    <nav className="pager" aria-label="Paginación">
      <button type="button" onClick={() => onChange(Math.max(0, offset - limit))} disabled={offset === 0}>
        ‹ Anteriores
      </button>
      <span aria-live="polite">
        {from}–{to} de {total}
      </span>
      <button type="button" onClick={() => onChange(offset + limit)} disabled={to >= total}>
        Siguientes ›
      </button>
    </nav>
  );
}

/** A button that asks first, in a modal <dialog> (focus is kept inside; Esc cancels). */
export function ConfirmButton({
  label,
  question,
  confirmLabel = 'Confirmar',
  onConfirm,
  danger,
  disabled,
  children,
}: {
  label: string;
  question: string;
  confirmLabel?: string;
  onConfirm: () => void;
  danger?: boolean;
  disabled?: boolean;
  children?: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  return (
    <>
      <button type="button" className={danger ? 'danger' : undefined} disabled={disabled} onClick={() => ref.current?.showModal()}>
        {label}
      </button>
      <dialog ref={ref} aria-labelledby={`${id}-q`}>
        <form method="dialog">
          <p id={`${id}-q`} className="dialog-q">
            {question}
          </p>
          {children}
          <div className="row">
            <button type="submit" value="cancel" autoFocus>
              Cancelar
            </button>
            <button
              type="submit"
              value="ok"
              className={danger ? 'danger' : 'primary'}
              onClick={() => {
                onConfirm();
              }}
            >
              {confirmLabel}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

/** Copy a value (webhook URL) with a visible confirmation. */
export function CopyField({ label, value }: { label: string; value: string }) {
  const [done, setDone] = useState(false);
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <div className="row">
        <input id={id} readOnly value={value} onFocus={(e) => e.currentTarget.select()} />
        <button
          type="button"
          onClick={() => {
            void navigator.clipboard?.writeText(value).then(
              () => setDone(true),
              () => setDone(false),
            );
          }}
        >
          Copiar
        </button>
      </div>
      {done ? <small role="status">Copiado</small> : null}
    </div>
  );
}

export function Progress({ bytes, total, label }: { bytes: number; total: number | null; label: string }) {
  return (
    <div className="progress" role="status" aria-live="polite">
      <span>
        {label}: {(bytes / 1024).toFixed(0)} KB{total ? ` de ${(total / 1024).toFixed(0)} KB` : ''}
      </span>
      <progress max={total ?? undefined} value={total ? bytes : undefined} aria-label={label} />
    </div>
  );
}

export function StateBadge({ value }: { value: string | null | undefined }) {
  if (!value) return <span className="badge">—</span>;
  return <span className={`badge b-${value.replace(/[^a-z_]/g, '')}`}>{value.replace(/_/g, ' ')}</span>;
}

/** One column of a DataTable: its header, and what a row shows in it. */
export interface Column<T> {
  label: string;
  cell: (row: T) => ReactNode;
  className?: string;
}

/**
 * A list as a table; each cell carries its column's label (`data-label`), which the 360 px layout shows
 * beside the value when the rows stack as cards (styles.css `.table.responsive`).
 */
export function DataTable<T>({
  label,
  columns,
  rows,
  rowKey,
  rowProps,
}: {
  label: string;
  columns: Column<T>[];
  rows: readonly T[];
  rowKey: (row: T) => string | number;
  rowProps?: (row: T) => Record<string, string | number>;
}) {
  return (
    <table className="table responsive" aria-label={label}>
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c.label} scope="col">
              {c.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={rowKey(r)} {...rowProps?.(r)}>
            {columns.map((c) => (
              <td key={c.label} data-label={c.label} className={c.className}>
                {c.cell(r)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
