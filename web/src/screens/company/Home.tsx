import { useEffect, useRef, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, unwrap } from '../../api/client';
import { ErrorNote, Loading, Page, Select, fmtMoney, zoneLabel } from '../../ui';

type Day = { fecha: string; monto: number; ventas: number; efectivo_monto: number; efectivo_ventas: number };

/** Card and cash sales by day as bars side by side (uPlot); the same numbers are in the table below for screen readers. */
function DayChart({ days }: { days: Day[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const xs = days.map((d) => Date.parse(`${d.fecha}T12:00:00Z`) / 1000);
    const ys = days.map((d) => d.monto);
    const cash = days.map((d) => d.efectivo_monto);
    const width = () => Math.max(280, el.clientWidth);
    const plot = new uPlot(
      {
        width: width(),
        height: 220,
        legend: { show: false },
        cursor: { show: true, drag: { x: false, y: false } },
        // Half a day of room on each side: the card and cash bars of the first and last day stay inside.
        scales: { x: { time: true, range: (_u, min, max) => [min - 43_200, max + 43_200] }, y: { range: (_u, _min, max) => [0, Math.max(10, max * 1.1)] } },
        axes: [{ stroke: '#333', grid: { show: false } }, { stroke: '#333', size: 60, values: (_u, v) => v.map((n) => `$${n}`) }],
        series: [
          {},
          { label: 'Tarjeta', stroke: '#0b5cad', fill: 'rgba(11,92,173,0.35)', paths: uPlot.paths.bars!({ size: [0.4, 20], align: -1 }), points: { show: false } },
          { label: 'Efectivo', stroke: '#1e7b34', fill: 'rgba(30,123,52,0.35)', paths: uPlot.paths.bars!({ size: [0.4, 20], align: 1 }), points: { show: false } },
        ],
      },
      [xs, ys, cash],
      el,
    );
    const onResize = () => plot.setSize({ width: width(), height: 220 });
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      plot.destroy();
    };
  }, [days]);
  return <div ref={box} className="chart" aria-hidden="true" />;
}

export function Home() {
  const [dias, setDias] = useState(30);
  const sales = useQuery({ queryKey: ['ventas', dias], queryFn: async () => unwrap(await api.GET('/api/v1/admin/mi-empresa/ventas', { params: { query: { dias } } })) });
  const alerts = useQuery({ queryKey: ['alertas'], queryFn: async () => unwrap(await api.GET('/api/v1/admin/mi-empresa/alertas')), refetchInterval: 60_000 });
  const s = sales.data;
  const maxPlan = Math.max(1, ...(s?.por_plan.map((p) => p.monto) ?? [1]));

  return (
    <Page title="Inicio">
      <section aria-label="Alertas" className="alerts">
        <ErrorNote error={alerts.error} />
        {alerts.data?.alertas.length === 0 ? <p className="ok">Sin alertas: todo en orden.</p> : null}
        <ul>
          {alerts.data?.alertas.map((a, i) => (
            <li key={i} className={`alert a-${a.tipo}`} role="alert">
              {a.mensaje}
              {a.tipo === 'compras_en_revision' ? (
                <>
                  {' '}
                  · <a href="#/transacciones">Ver transacciones</a>
                </>
              ) : null}
              {a.tipo === 'router_sin_conexion' ? (
                <>
                  {' '}
                  · <a href="#/routers">Ver routers</a>
                </>
              ) : null}
            </li>
          ))}
        </ul>
      </section>
      <ErrorNote error={sales.error} />
      {!s ? (
        <Loading />
      ) : (
        <>
          <div className="kpis">
            <div className="kpi">
              <span>Tarjeta hoy ({s.hoy.fecha})</span>
              <strong data-testid="ventas-hoy">{fmtMoney(s.hoy.monto)}</strong>
              <small>{s.hoy.ventas} venta(s)</small>
            </div>
            <div className="kpi">
              <span>Tarjeta este mes</span>
              <strong data-testid="ventas-mes">{fmtMoney(s.mes.monto)}</strong>
              <small>{s.mes.ventas} venta(s)</small>
            </div>
            <div className="kpi cash">
              <span>Efectivo hoy</span>
              <strong data-testid="efectivo-hoy">{fmtMoney(s.efectivo.hoy.monto)}</strong>
              <small>{s.efectivo.hoy.ventas} ficha(s) de lote</small>
            </div>
            <div className="kpi cash">
              <span>Efectivo este mes</span>
              <strong data-testid="efectivo-mes">{fmtMoney(s.efectivo.mes.monto)}</strong>
              <small>{s.efectivo.mes.ventas} ficha(s) de lote</small>
            </div>
          </div>
          <p className="muted">
            Tarjeta: dinero cobrado, neto de reembolsos. Efectivo: fichas de lote al precio del plan cuando se hizo el lote, el día de su primer uso. Horario de{' '}
            {zoneLabel(s.zona_horaria)}.
          </p>
          <div className="card">
            <div className="row spread">
              <h2>Ventas por día</h2>
              <Select label="Periodo" value={dias} onChange={(e) => setDias(Number(e.target.value))}>
                <option value={7}>7 días</option>
                <option value={30}>30 días</option>
                <option value={90}>90 días</option>
              </Select>
            </div>
            <p className="legend" aria-hidden="true">
              <span className="swatch card-sw" /> Tarjeta <span className="swatch cash-sw" /> Efectivo
            </p>
            <DayChart days={s.por_dia} />
            <details>
              <summary>Ver como tabla</summary>
              <div className="scroll-x">
              <table className="table" aria-label="Ventas por día">
                <thead>
                  <tr>
                    <th scope="col">Fecha</th>
                    <th scope="col">Ventas con tarjeta</th>
                    <th scope="col">Tarjeta</th>
                    <th scope="col">Fichas en efectivo</th>
                    <th scope="col">Efectivo</th>
                  </tr>
                </thead>
                <tbody>
                  {s.por_dia
                    .filter((d) => d.ventas > 0 || d.efectivo_ventas > 0)
                    .map((d) => (
                      <tr key={d.fecha} data-fecha={d.fecha}>
                        <td>{d.fecha}</td>
                        <td>{d.ventas}</td>
                        <td>{fmtMoney(d.monto)}</td>
                        <td>{d.efectivo_ventas}</td>
                        <td>{fmtMoney(d.efectivo_monto)}</td>
                      </tr>
                    ))}
                </tbody>
              </table>
              </div>
            </details>
          </div>
          <div className="card">
            <h2>Ventas con tarjeta por plan ({dias} días)</h2>
            {s.por_plan.length === 0 ? <p className="muted">Sin ventas en el periodo.</p> : null}
            <ul className="bars" aria-label="Ventas por plan">
              {s.por_plan.map((p) => (
                <li key={`${p.producto_id}-${p.nombre}`}>
                  <span className="bar-label">
                    {p.nombre} · {p.ventas} venta(s) · {fmtMoney(p.monto)}
                  </span>
                  <span className="bar" style={{ width: `${Math.max(2, (p.monto / maxPlan) * 100)}%` }} />
                </li>
              ))}
            </ul>
          </div>
        </>
      )}
    </Page>
  );
}
