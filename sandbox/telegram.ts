/**
 * Fake Telegram Bot API for tests and local runs: answers POST /bot<token>/sendMessage like Telegram
 * (including its 400 for malformed HTML entities) and records every accepted message.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenSandbox } from './http.js';

export interface SentTelegramMessage {
  token: string;
  chat_id: string;
  text: string;
  parse_mode?: string;
}

export interface TelegramFake {
  url: string;
  messages: SentTelegramMessage[];
  /** The next request fails with this HTTP status and Telegram-like description (default 500). */
  failNext(status?: number, description?: string): void;
  close(): Promise<void>;
}

/** Telegram's HTML mode rejects unescaped `<`/`&` that do not form a supported tag or entity. */
const ALLOWED_TAGS = /^<\/?(b|strong|i|em|u|ins|s|strike|del|code|pre|a|span|tg-spoiler|blockquote)(\s[^<>]*)?>/;
const ENTITY = /^&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);/;

export function htmlProblem(text: string): string | null {
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '<' && !ALLOWED_TAGS.test(text.slice(i))) return `Bad Request: can't parse entities: Unsupported start tag at byte offset ${i}`;
    if (ch === '&' && !ENTITY.test(text.slice(i))) return `Bad Request: can't parse entities: Character entity expected at byte offset ${i}`;
  }
  return null;
}

export async function startTelegramFake(): Promise<TelegramFake> {
  const messages: SentTelegramMessage[] = [];
  const failures: { status: number; description: string }[] = [];

  const reply = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const m = /^\/bot([^/]+)\/sendMessage$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !m) return reply(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
      const fail = failures.shift();
      if (fail) return reply(res, fail.status, { ok: false, error_code: fail.status, description: fail.description });
      const token = decodeURIComponent(m[1]);
      if (!/^\d+:[A-Za-z0-9_-]+$/.test(token)) return reply(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
      let body: Partial<SentTelegramMessage>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Partial<SentTelegramMessage>;
      } catch {
        return reply(res, 400, { ok: false, error_code: 400, description: 'Bad Request: invalid JSON' });
      }
      if (!body.chat_id) return reply(res, 400, { ok: false, error_code: 400, description: 'Bad Request: chat_id is empty' });
      if (!body.text) return reply(res, 400, { ok: false, error_code: 400, description: 'Bad Request: message text is empty' });
      if (body.parse_mode === 'HTML') {
        const problem = htmlProblem(body.text);
        if (problem) return reply(res, 400, { ok: false, error_code: 400, description: problem });
      }
      messages.push({ token, chat_id: String(body.chat_id), text: body.text, parse_mode: body.parse_mode });
      reply(res, 200, { ok: true, result: { message_id: messages.length, chat: { id: body.chat_id }, text: body.text } });
    });
  });
  const { port, close } = await listenSandbox(server);
  return {
    url: `http://127.0.0.1:${port}`,
    messages,
    failNext(status = 500, description = 'Internal Server Error') {
      failures.push({ status, description });
    },
    close,
  };
}
