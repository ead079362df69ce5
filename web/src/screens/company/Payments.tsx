import { useState, type FormEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '../../api/client';
import { Check, CopyField, ErrorNote, Field, Loading, Notice, Page, Select } from '../../ui';

const MASK = '********';

function useSave() {
  const [error, setError] = useState<unknown>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const run = async (f: () => Promise<{ message: string }>) => {
    setError(null);
    setMsg(null);
    try {
      setMsg((await f()).message);
    } catch (err) {
      setError(err);
    }
  };
  return { error, msg, run };
}

export function Payments() {
  const qc = useQueryClient();
  const empresa = useQuery({ queryKey: ['mi-empresa'], queryFn: async () => unwrap(await api.GET('/api/v1/admin/mi-empresa')) });
  const conekta = useQuery({ queryKey: ['conekta'], queryFn: async () => unwrap(await api.GET('/api/v1/admin/mi-empresa/conekta')).configuracion_actual });
  const mp = useQuery({ queryKey: ['mp'], queryFn: async () => unwrap(await api.GET('/api/v1/admin/mi-empresa/mercado-pago')).configuracion_actual });
  const eid = empresa.data?.id ?? '';
  const webhook = useQuery({
    queryKey: ['webhook', eid],
    enabled: !!eid,
    queryFn: async () => unwrap(await api.GET('/api/v1/webhook/empresa/{empresa_id}/estado-webhook', { params: { path: { empresa_id: eid } } })),
  });
  const ck = useSave();
  const m = useSave();
  const tg = useSave();
  const tgTest = useSave();
  const tz = useSave();
  const reload = () => void qc.invalidateQueries();

  if (!conekta.data || !mp.data || !empresa.data) return <Page title="Pagos y avisos">{<ErrorNote error={conekta.error ?? mp.error ?? empresa.error} />}<Loading /></Page>;
  const e = empresa.data;
  const mpUrl = webhook.data?.configuracion_webhook.url ?? `${location.origin}/api/v1/webhook/mercado-pago`;
  const conektaUrl = mpUrl.replace(/mercado-pago$/, 'conekta');

  return (
    <Page title="Pagos y avisos">
      <form
        className="card"
        aria-labelledby="h-conekta"
        onSubmit={(ev: FormEvent<HTMLFormElement>) => {
          ev.preventDefault();
          const f = new FormData(ev.currentTarget);
          void ck.run(async () => {
            const r = unwrap(
              await api.PUT('/api/v1/admin/mi-empresa/conekta-config', {
                body: { conekta_public_key: String(f.get('pub')), conekta_private_key: String(f.get('priv')), conekta_mode: String(f.get('mode')) as 'test' },
              }),
            );
            reload();
            return r;
          });
        }}
      >
        <h2 id="h-conekta">Conekta</h2>
        <Field label="Llave pública" name="pub" defaultValue={conekta.data.conekta_public_key ?? ''} autoComplete="off" />
        <Field label="Llave privada" name="priv" type="password" defaultValue={conekta.data.conekta_private_key ?? ''} autoComplete="off" hint={`Se muestra enmascarada (${MASK}); déjala así para no cambiarla`} />
        <Select label="Modo" name="mode" defaultValue={conekta.data.conekta_mode}>
          <option value="test">Pruebas</option>
          <option value="live">Producción</option>
        </Select>
        <CopyField label="URL del webhook de Conekta" value={conektaUrl} />
        <ErrorNote error={ck.error} />
        {ck.msg ? <Notice>{ck.msg}</Notice> : null}
        <button type="submit" className="primary">
          Guardar Conekta
        </button>
      </form>

      <form
        className="card"
        aria-labelledby="h-mp"
        onSubmit={(ev: FormEvent<HTMLFormElement>) => {
          ev.preventDefault();
          const f = new FormData(ev.currentTarget);
          void m.run(async () => {
            const r = unwrap(
              await api.POST('/api/v1/admin/mi-empresa/configurar-credenciales', {
                body: { public_key: String(f.get('pub')), access_token: String(f.get('token')), webhook_secret: String(f.get('secret')), mode: String(f.get('mode')) as 'test' },
              }),
            );
            reload();
            return r;
          });
        }}
      >
        <h2 id="h-mp">Mercado Pago</h2>
        <Field label="Public key" name="pub" defaultValue={mp.data.public_key ?? ''} autoComplete="off" />
        <Field label="Access token" name="token" type="password" defaultValue={mp.data.access_token ?? ''} autoComplete="off" />
        <Field label="Secreto del webhook" name="secret" type="password" defaultValue={mp.data.webhook_secret ?? ''} autoComplete="off" />
        <Select label="Modo" name="mode" defaultValue={mp.data.mode ?? 'test'}>
          <option value="test">Pruebas</option>
          <option value="live">Producción</option>
        </Select>
        <CopyField label="URL del webhook de Mercado Pago" value={mpUrl} />
        <ErrorNote error={m.error} />
        {m.msg ? <Notice>{m.msg}</Notice> : null}
        <button type="submit" className="primary">
          Guardar Mercado Pago
        </button>
      </form>

      <form
        className="card"
        aria-labelledby="h-tg"
        onSubmit={(ev: FormEvent<HTMLFormElement>) => {
          ev.preventDefault();
          const f = new FormData(ev.currentTarget);
          void tg.run(async () => {
            const r = unwrap(
              await api.PUT('/api/v1/admin/mi-empresa', {
                body: { telegram_bot_token: String(f.get('token')), telegram_chat_id: String(f.get('chat')), notificaciones_telegram: f.get('on') === 'on' },
              }),
            );
            reload();
            return r;
          });
        }}
      >
        <h2 id="h-tg">Avisos por Telegram</h2>
        <Field label="Token del bot" name="token" type="password" defaultValue={e.telegram_bot_token ?? ''} autoComplete="off" />
        <Field label="Chat ID" name="chat" defaultValue={e.telegram_chat_id ?? ''} autoComplete="off" />
        <Check label="Enviar avisos (ventas, reembolsos, router sin conexión)" name="on" defaultChecked={e.notificaciones_telegram} />
        <ErrorNote error={tg.error ?? tgTest.error} />
        {tg.msg ? <Notice>{tg.msg}</Notice> : null}
        {tgTest.msg ? <Notice>{tgTest.msg}</Notice> : null}
        <div className="row">
          <button type="submit" className="primary">
            Guardar Telegram
          </button>
          <button type="button" onClick={() => void tgTest.run(async () => unwrap(await api.POST('/api/v1/admin/test-telegram', { body: {} })))}>
            Enviar mensaje de prueba
          </button>
        </div>
      </form>

      <form
        className="card"
        aria-labelledby="h-tz"
        onSubmit={(ev: FormEvent<HTMLFormElement>) => {
          ev.preventDefault();
          const f = new FormData(ev.currentTarget);
          void tz.run(async () => {
            const r = unwrap(await api.PUT('/api/v1/admin/mi-empresa', { body: { zona_horaria: String(f.get('zona')).trim() } }));
            reload();
            return r;
          });
        }}
      >
        <h2 id="h-tz">Horario</h2>
        <Field
          label="Zona horaria"
          name="zona"
          defaultValue={e.zona_horaria}
          list="zonas"
          autoComplete="off"
          hint="Las horas del panel, las fichas impresas y los recibos se muestran en esta zona (nombre IANA, p. ej. America/Mexico_City)"
        />
        <datalist id="zonas">
          {['America/Mexico_City', 'America/Cancun', 'America/Monterrey', 'America/Chihuahua', 'America/Hermosillo', 'America/Mazatlan', 'America/Tijuana', 'America/Bogota', 'America/Lima'].map((z) => (
            <option key={z} value={z} />
          ))}
        </datalist>
        <ErrorNote error={tz.error} />
        {tz.msg ? <Notice>{tz.msg}</Notice> : null}
        <button type="submit" className="primary">
          Guardar horario
        </button>
      </form>
    </Page>
  );
}
