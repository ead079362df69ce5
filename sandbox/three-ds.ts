/**
 * The sandbox's stand-in for an issuer's 3-D Secure challenge page (issue 13), served by each fake gateway on
 * ITS own origin (as the real challenge lives on the issuer's or the gateway's hosts, never on ours): the
 * customer approves, fails or abandons. Abandoning changes nothing at the gateway: the payment stays pending,
 * exactly as when a person closes the bank's page, and the merchant must cope (expire it).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type ChallengeChoice = 'aprobar' | 'rechazar' | 'abandonar';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const CSS = `*{box-sizing:border-box}body{margin:0;font:16px system-ui,sans-serif;color:#1d2433;background:#f3f5f9}
main{max-width:420px;margin:0 auto;padding:18px}.banco{display:flex;align-items:center;gap:10px;margin-bottom:14px}
.sello{width:40px;height:40px;border-radius:10px;background:#1d3b8b;color:#fff;display:grid;place-items:center;font-weight:800}
h1{font-size:19px;margin:0}p{line-height:1.4}.monto{font-size:22px;font-weight:800;margin:6px 0 14px}
.codigo{background:#fff;border:1px dashed #8a94a6;border-radius:10px;padding:10px;text-align:center;letter-spacing:4px;font-size:20px}
button{display:block;width:100%;margin-top:10px;padding:13px;font-size:16px;font-weight:700;border-radius:10px;border:0;cursor:pointer}
.aprobar{background:#137333;color:#fff}.rechazar{background:#b3261e;color:#fff}.abandonar{background:#e3e7ee;color:#1d2433}
.nota{font-size:12px;color:#667085;margin-top:14px}`;

/** The challenge: a one-time code shown (sandbox) and three buttons posting to `action`. */
export function challengePage(o: { brand: string; amount: string; action: string; fields?: Record<string, string> }): string {
  const hidden = Object.entries(o.fields ?? {})
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join('');
  const button = (choice: ChallengeChoice, label: string) =>
    `<form method="post" action="${esc(o.action)}">${hidden}<input type="hidden" name="accion" value="${choice}"><button class="${choice}" id="${choice}" type="submit">${label}</button></form>`;
  return `<!doctype html><html lang="es"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Verificación de tu banco</title><style>${CSS}</style></head><body><main>
<div class="banco"><div class="sello">3DS</div><div><h1>Banco de prueba</h1><div>${esc(o.brand)} · verificación 3-D Secure</div></div></div>
<p>Confirma la compra por</p><div class="monto">${esc(o.amount)}</div>
<p>Escribe el código que te enviamos por SMS (sandbox: ya está escrito).</p><div class="codigo">123456</div>
${button('aprobar', 'Confirmar compra')}${button('rechazar', 'No reconozco esta compra')}${button('abandonar', 'Cancelar y cerrar')}
<p class="nota">Página del sandbox: en producción esta página es de tu banco.</p>
</main></body></html>`;
}

/** What the challenge page shows after the choice; `script` (our own, fake origin) runs there. */
export function challengeDone(message: string, script = ''): string {
  return `<!doctype html><html lang="es"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Verificación de tu banco</title><style>${CSS}</style></head><body><main><div class="banco"><div class="sello">3DS</div><h1>Banco de prueba</h1></div>
<p id="resultado">${esc(message)}</p></main>${script ? `<script>${script}</script>` : ''}</body></html>`;
}

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

/** A form post's fields (application/x-www-form-urlencoded). */
export function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

export const isChoice = (v: string | null): v is ChallengeChoice => v === 'aprobar' || v === 'rechazar' || v === 'abandonar';
