/**
 * A batch as a printable PDF: an A4 grid (3 × 7 tickets a page) or a thermal roll (58 or 80 mm, one
 * ticket a page so the printer cuts between them). Each ticket: the company's logo and name, the plan,
 * the credentials and a QR code opening the hotspot's login with them.
 */
import type { BatchVoucher } from './batches.js';

// pdfkit (fonts, fontkit) and qrcode are loaded on the first sheet, not at start: together about 30 MB of
// an idle instance's memory and a good part of its start-up, for a page few instances ever print.
let modules: Promise<{ PDFDocument: typeof import('pdfkit'); QRCode: typeof import('qrcode') }> | null = null;
const loadModules = () =>
  (modules ??= Promise.all([import('pdfkit'), import('qrcode')]).then(([pdf, qr]) => ({ PDFDocument: pdf.default, QRCode: qr.default })));

export const FORMATOS = ['a4', '58mm', '80mm'] as const;
export type Formato = (typeof FORMATOS)[number];

export interface SheetInput {
  empresa: string;
  /** PNG or JPEG (pdfkit reads no other); null: name only. */
  logo: Buffer | null;
  plan: string;
  detalle: string | null;
  /** The batch and when it was made, in the company's zone (e.g. `Lote 12 · 03/12/26, 10:14`). */
  pie: string;
  /** `http://<dns-name>/login`, or '' when unknown (no QR then). */
  loginBase: string;
  vouchers: BatchVoucher[];
}

const MM = 72 / 25.4;

/** When a batch was made (naive UTC from the database), short, in the company's zone. */
export function batchStamp(naiveUtc: string, zone: string): string {
  const d = new Date(naiveUtc.replace(' ', 'T') + (/[zZ]$/.test(naiveUtc) ? '' : 'Z'));
  const opts = { day: '2-digit', month: '2-digit', year: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' } as const;
  try {
    return new Intl.DateTimeFormat('es-MX', { ...opts, timeZone: zone }).format(d);
  } catch {
    return new Intl.DateTimeFormat('es-MX', { ...opts, timeZone: 'UTC' }).format(d) + ' UTC';
  }
}

export function loginUrl(base: string, v: BatchVoucher): string {
  return `${base}?${new URLSearchParams({ username: v.usuario, password: v.password }).toString()}`;
}

interface QrModules {
  size: number;
  data: Uint8Array | boolean[];
}

/** Dark modules as squares inside a two-module quiet zone (white background drawn first). */
function drawQr(doc: PDFKit.PDFDocument, m: QrModules, x: number, y: number, size: number): void {
  const cell = size / (m.size + 8);
  doc.save().rect(x, y, size, size).fill('#ffffff');
  for (let r = 0; r < m.size; r++) {
    for (let c = 0; c < m.size; c++) if (m.data[r * m.size + c]) doc.rect(x + (c + 4) * cell, y + (r + 4) * cell, cell, cell);
  }
  doc.fill('#000000').restore();
}

export async function renderSheet(input: SheetInput, formato: Formato): Promise<Buffer> {
  const { PDFDocument, QRCode } = await loadModules();
  // QR codes as vector squares (one path each): sharp at any printer resolution, and far faster to
  // write and to rasterise than 500 embedded images.
  const qrs = input.vouchers.map((v) => (input.loginBase ? QRCode.create(loginUrl(input.loginBase, v), { errorCorrectionLevel: 'M' }).modules : null));
  const roll = formato !== 'a4';
  const width = formato === '58mm' ? 58 * MM : formato === '80mm' ? 80 * MM : 0;
  const doc = new PDFDocument(roll ? { size: [width, 250], margin: 8, autoFirstPage: false } : { size: 'A4', margin: 24, autoFirstPage: false });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  let logoOk = input.logo !== null;
  const ticket = (i: number, x: number, y: number, w: number) => {
    const v = input.vouchers[i];
    let top = y;
    if (logoOk && input.logo) {
      try {
        doc.image(input.logo, x, top, { fit: [w, 24] });
        top += 26;
      } catch {
        logoOk = false;
      }
    }
    doc.font('Helvetica-Bold').fontSize(9).text(input.empresa, x, top, { width: w, lineBreak: false, ellipsis: true });
    doc.font('Helvetica').fontSize(8).text(input.plan + (input.detalle ? ` · ${input.detalle}` : ''), x, top + 11, { width: w, lineBreak: false, ellipsis: true });
    const qr = qrs[i];
    const qrSize = roll ? Math.min(w, 110) : 80;
    const textX = roll ? x : x + qrSize + 6;
    const textY = roll ? top + 24 + qrSize + 4 : top + 30;
    if (qr) drawQr(doc, qr, x, top + 22, qrSize);
    doc.font('Helvetica').fontSize(8).text('Usuario:', textX, textY, { lineBreak: false });
    doc.font('Courier-Bold').fontSize(10).text(v.usuario, textX, textY + 10, { lineBreak: false });
    doc.font('Helvetica').fontSize(8).text('Contraseña:', textX, textY + 24, { lineBreak: false });
    doc.font('Courier-Bold').fontSize(10).text(v.password, textX, textY + 34, { lineBreak: false });
    // A4: in the gap above the credentials (the cell has no room below them); roll: under them.
    if (roll) doc.font('Helvetica').fontSize(7).text(input.pie, textX, textY + 50, { width: w, lineBreak: false });
    else doc.font('Helvetica').fontSize(6.5).text(input.pie, textX, top + 21, { width: w - qrSize - 6, lineBreak: false });
  };
  if (roll) {
    for (let i = 0; i < input.vouchers.length; i++) {
      doc.addPage();
      ticket(i, 8, 8, width - 16);
    }
  } else {
    const cols = 3;
    const rows = 7;
    const cellW = (595.28 - 48) / cols;
    const cellH = (841.89 - 48) / rows;
    for (let i = 0; i < input.vouchers.length; i++) {
      const k = i % (cols * rows);
      if (k === 0) doc.addPage();
      const x = 24 + (k % cols) * cellW;
      const y = 24 + Math.floor(k / cols) * cellH;
      doc.save().lineWidth(0.3).dash(2, { space: 2 }).strokeColor('#999999').rect(x, y, cellW, cellH).stroke().restore();
      ticket(i, x + 6, y + 6, cellW - 12);
    }
  }
  if (input.vouchers.length === 0) doc.addPage();
  doc.end();
  return done;
}
