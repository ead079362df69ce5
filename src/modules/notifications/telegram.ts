/**
 * Telegram Bot API client (sendMessage only). The base URL comes from TELEGRAM_API_BASE so that tests
 * reach the fake server through the same code path.
 */
import type { Logger } from 'pino';

export class TelegramError extends Error {
  constructor(
    message: string,
    /** HTTP status from Telegram, or null for a network failure/timeout. */
    readonly status: number | null = null,
    /** Telegram's own `description`, when it sent one (never contains the token). */
    readonly description: string | null = null,
  ) {
    super(message);
    this.name = 'TelegramError';
  }
}

/** Escape text for Telegram's HTML parse mode (the only entities it requires are &, < and >; quotes for attributes). */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export class TelegramService {
  constructor(
    private readonly apiBase: string,
    private readonly logger?: Logger,
    private readonly timeoutMs = 10_000,
  ) {}

  /** POST {base}/bot<token>/sendMessage {chat_id, text, parse_mode:'HTML'}; throws TelegramError on failure. */
  async send(botToken: string, chatId: string, html: string): Promise<void> {
    // The token is part of the URL path: it must never appear in a log line or an error message.
    // Encoded so a malformed token cannot alter the path; the ':' of real tokens stays literal.
    const url = `${this.apiBase}/bot${encodeURIComponent(botToken).replace(/%3A/gi, ':')}/sendMessage`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ chat_id: chatId, text: html, parse_mode: 'HTML' }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const timeout = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      this.logger?.warn({ timeout }, 'Telegram no respondió');
      throw new TelegramError(timeout ? 'Telegram no respondió a tiempo' : 'No se pudo conectar con Telegram');
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      let description: string | null = null;
      try {
        const body = JSON.parse(text) as { description?: unknown };
        if (typeof body.description === 'string') description = body.description.slice(0, 300);
      } catch {
        /* not JSON */
      }
      this.logger?.warn({ status: res.status, description }, 'Telegram rechazó el mensaje');
      throw new TelegramError(`Telegram respondió ${res.status}`, res.status, description);
    }
  }
}
