/**
 * RouterOS API wire format: a sentence is a list of words ended by an empty word; each word is a length
 * prefix (1 to 5 bytes, MikroTik's variable-length encoding) followed by that many bytes.
 *
 * Text: lengths always count BYTES (librouteros counts characters, which breaks on non-ASCII). Words we
 * send are UTF-8; RouterOS stores bytes as given, so ASCII round-trips exactly and UTF-8 comes back as we
 * wrote it. Words we receive are decoded as UTF-8 when they are valid UTF-8 and as Latin-1 otherwise
 * (values typed in WinBox are often in a Windows code page), so decoding never fails and never loses bytes.
 * The hotspot layer only sends validated ASCII for names, MACs, IPs and passwords anyway.
 */

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** A reply went over one of the reader's caps (word length, words per sentence). */
export class ReaderLimitError extends ProtocolError {
  constructor(message: string) {
    super(message);
    this.name = 'ReaderLimitError';
  }
}

/** Longest length the 5-byte form can carry. */
export const MAX_LENGTH = 0xffffffff;

export function encodeLength(length: number): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > MAX_LENGTH) throw new ProtocolError(`longitud de palabra inválida: ${length}`);
  if (length < 0x80) return Buffer.from([length]);
  if (length < 0x4000) return Buffer.from([(length >>> 8) | 0x80, length & 0xff]);
  if (length < 0x200000) return Buffer.from([(length >>> 16) | 0xc0, (length >>> 8) & 0xff, length & 0xff]);
  if (length < 0x10000000) return Buffer.from([((length >>> 24) & 0xff) | 0xe0, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff]);
  return Buffer.from([0xf0, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff]);
}

/** How many bytes the length prefix starting with `first` takes (1..5). */
export function lengthPrefixSize(first: number): number {
  if ((first & 0x80) === 0x00) return 1;
  if ((first & 0xc0) === 0x80) return 2;
  if ((first & 0xe0) === 0xc0) return 3;
  if ((first & 0xf0) === 0xe0) return 4;
  if (first === 0xf0) return 5;
  // 0xF8..0xFF are control bytes that RouterOS never sends inside the API stream.
  throw new ProtocolError(`byte de control desconocido 0x${first.toString(16)}`);
}

/** Decode a complete length prefix (exactly lengthPrefixSize(buf[off]) bytes available). */
export function decodeLength(buf: Uint8Array, off = 0): { length: number; size: number } {
  const size = lengthPrefixSize(buf[off]);
  if (off + size > buf.length) throw new ProtocolError('prefijo de longitud incompleto');
  let length: number;
  switch (size) {
    case 1:
      length = buf[off];
      break;
    case 2:
      length = ((buf[off] & 0x3f) << 8) | buf[off + 1];
      break;
    case 3:
      length = ((buf[off] & 0x1f) << 16) | (buf[off + 1] << 8) | buf[off + 2];
      break;
    case 4:
      length = ((buf[off] & 0x0f) * 0x1000000) + ((buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]);
      break;
    default:
      length = buf[off + 1] * 0x1000000 + ((buf[off + 2] << 16) | (buf[off + 3] << 8) | buf[off + 4]);
  }
  return { length, size };
}

export function encodeWord(word: string | Buffer): Buffer {
  const bytes = typeof word === 'string' ? Buffer.from(word, 'utf8') : word;
  return Buffer.concat([encodeLength(bytes.length), bytes]);
}

export function encodeSentence(words: ReadonlyArray<string | Buffer>): Buffer {
  return Buffer.concat([...words.map(encodeWord), Buffer.from([0])]);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeText(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }
}

/** Limits on what one reply may make us hold (a hostile "router" must not exhaust memory). */
export interface ReaderLimits {
  /** Longest word accepted (its declared length is checked before anything is buffered). */
  maxWordBytes: number;
  /** Most words in one sentence. */
  maxSentenceWords: number;
}

export const DEFAULT_READER_LIMITS: ReaderLimits = { maxWordBytes: 1024 * 1024, maxSentenceWords: 10_000 };

/**
 * Incremental sentence reader: feed it whatever the socket delivers (any split, down to single bytes) and
 * it returns the complete sentences. A word's declared length is checked against `maxWordBytes` before any
 * of it is buffered, and its buffer is allocated once at that length and filled in place as chunks arrive
 * (rebuilding it with Buffer.concat on every chunk was quadratic: a 16 MB word blocked the event loop).
 */
export class SentenceReader {
  private readonly limits: ReaderLimits;
  /** Bytes of a length prefix split across chunks (at most 4 of the 5). */
  private prefix: Buffer = Buffer.alloc(0);
  /** The word being filled and how much of it has arrived. */
  private word: Buffer | null = null;
  private filled = 0;
  private words: string[] = [];
  private wordBytes = 0;

  constructor(limits: Partial<ReaderLimits> | number = {}) {
    this.limits = { ...DEFAULT_READER_LIMITS, ...(typeof limits === 'number' ? { maxWordBytes: limits } : limits) };
  }

  push(chunk: Buffer): string[][] {
    const out: string[][] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (this.word) {
        const n = Math.min(this.word.length - this.filled, chunk.length - pos);
        chunk.copy(this.word, this.filled, pos, pos + n);
        this.filled += n;
        pos += n;
        if (this.filled === this.word.length) {
          this.addWord(this.word);
          this.word = null;
        }
        continue;
      }
      // A length prefix, possibly split across chunks.
      const first = this.prefix.length > 0 ? this.prefix[0] : chunk[pos];
      const size = lengthPrefixSize(first);
      const need = size - this.prefix.length;
      if (chunk.length - pos < need) {
        this.prefix = Buffer.concat([this.prefix, chunk.subarray(pos)]);
        break;
      }
      const prefixBytes = this.prefix.length > 0 ? Buffer.concat([this.prefix, chunk.subarray(pos, pos + need)]) : chunk.subarray(pos, pos + size);
      pos += need;
      this.prefix = Buffer.alloc(0);
      const { length } = decodeLength(prefixBytes, 0);
      if (length > this.limits.maxWordBytes) throw new ReaderLimitError(`palabra demasiado larga (${length} bytes; máximo ${this.limits.maxWordBytes})`);
      if (length === 0) {
        if (this.words.length > 0) out.push(this.words);
        this.words = [];
        this.wordBytes = 0;
        continue;
      }
      // Small words that arrived whole are decoded straight from the chunk; others get one buffer.
      if (chunk.length - pos >= length) {
        this.addWord(chunk.subarray(pos, pos + length));
        pos += length;
      } else {
        this.word = Buffer.allocUnsafe(length);
        this.filled = 0;
      }
    }
    return out;
  }

  private addWord(bytes: Uint8Array): void {
    if (this.words.length >= this.limits.maxSentenceWords) throw new ReaderLimitError(`frase con demasiadas palabras (máximo ${this.limits.maxSentenceWords})`);
    this.words.push(decodeText(bytes));
    this.wordBytes += bytes.length;
  }

  /** Bytes received but not yet part of a complete sentence. */
  get pending(): number {
    return this.prefix.length + this.filled + this.wordBytes;
  }
}

/** A reply sentence: its reply word, its `=key=value` attributes, its tag and any other (API) words. */
export interface ReplySentence {
  type: string;
  attrs: Record<string, string>;
  tag: string | null;
  /** Words that are neither attributes nor the tag (e.g. the message of `!fatal`). */
  other: string[];
}

export function parseReply(words: string[]): ReplySentence {
  const [type, ...rest] = words;
  const attrs: Record<string, string> = {};
  const other: string[] = [];
  let tag: string | null = null;
  for (const w of rest) {
    if (w.startsWith('=')) {
      const eq = w.indexOf('=', 1);
      // "=key=value": the value may itself contain '='; a word without a second '=' is a key with an empty value.
      if (eq < 0) attrs[w.slice(1)] = '';
      else attrs[w.slice(1, eq)] = w.slice(eq + 1);
    } else if (w.startsWith('.tag=')) {
      tag = w.slice(5);
    } else {
      other.push(w);
    }
  }
  return { type, attrs, tag, other };
}

/** Attribute names we send: RouterOS property names (never user input). */
const KEY = /^[A-Za-z0-9.][A-Za-z0-9._-]*$/;

export function attributeWord(key: string, value: string | number | boolean): string {
  if (!KEY.test(key)) throw new ProtocolError(`nombre de atributo inválido: ${key}`);
  const v = typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value);
  return `=${key}=${v}`;
}

export function queryWord(key: string, value: string): string {
  if (!KEY.test(key)) throw new ProtocolError(`nombre de atributo inválido: ${key}`);
  return `?=${key}=${value}`;
}
