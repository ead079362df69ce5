/**
 * Just enough of the RouterOS scripting language to run the auto-connect login script, faithfully enough
 * to catch injection: statements end at a newline or `;` outside quotes; double-quoted strings know the
 * RouterOS escapes (`\"`, `\\`, `\n`, `\$`, `\XX`...) and evaluate `$var`, `$[cmd]` and `$(expr)`; `[cmd]`
 * outside quotes is command substitution. `:local`/`:global` set variables and
 * `/ip hotspot active login ...` logs in; EVERY other command — a statement or a substitution — is
 * recorded as executed (the injection tests assert that list stays empty) and otherwise ignored.
 */

import { decodeText } from '../../src/modules/hotspot/routeros/protocol.js';

type Part = { kind: 'lit'; text: string } | { kind: 'var'; name: string } | { kind: 'cmd'; text: string };
type Token = Part[];

export class ScriptSyntaxError extends Error {}

export interface ScriptHost {
  /** `/ip hotspot active login` with its evaluated arguments; throws to make the script fail. */
  login(attrs: Record<string, string>): void;
}

export interface ScriptOutcome {
  /** Commands other than the login that the script executed (injected code). */
  executed: string[];
  /** Argument sets of every login the script performed. */
  logins: Array<Record<string, string>>;
}

const SIMPLE_ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', n: '\n', r: '\r', t: '\t', $: '$', '?': '?', _: ' ', a: '\x07', b: '\b', f: '\f', v: '\v' };

function readBracketed(src: string, start: number, open: string, close: string): { text: string; end: number } {
  // src[start] === open; returns the text inside and the index after the matching close.
  let depth = 0;
  let inQuote = false;
  for (let i = start; i < src.length; i++) {
    const c = src[i];
    if (inQuote) {
      if (c === '\\') i++;
      else if (c === '"') inQuote = false;
      continue;
    }
    if (c === '"') inQuote = true;
    else if (c === open) depth++;
    else if (c === close) {
      depth--;
      if (depth === 0) return { text: src.slice(start + 1, i), end: i + 1 };
    }
  }
  throw new ScriptSyntaxError(`falta '${close}'`);
}

/** `$[cmd]`, `$(cmd)` or `$name` at `i` (the same inside and outside a quoted string). */
function readDollar(src: string, i: number): { part: Part; end: number } {
  if (src[i + 1] === '[' || src[i + 1] === '(') {
    const b = readBracketed(src, i + 1, src[i + 1], src[i + 1] === '[' ? ']' : ')');
    return { part: { kind: 'cmd', text: b.text.trim() }, end: b.end };
  }
  const v = readVarName(src, i + 1);
  return { part: { kind: 'var', name: v.name }, end: v.end };
}

function readVarName(src: string, i: number): { name: string; end: number } {
  const m = /^[A-Za-z0-9_-]+/.exec(src.slice(i));
  if (!m) throw new ScriptSyntaxError('nombre de variable esperado');
  return { name: m[0], end: i + m[0].length };
}

/** Split a script into statements of tokens of parts (no evaluation yet). */
export function parseScript(src: string): Token[][] {
  const statements: Token[][] = [];
  let statement: Token[] = [];
  let token: Token | null = null;
  const lit = (text: string) => {
    token ??= [];
    const last = token[token.length - 1];
    if (last && last.kind === 'lit') last.text += text;
    else token.push({ kind: 'lit', text });
  };
  const endToken = () => {
    if (token) statement.push(token);
    token = null;
  };
  const endStatement = () => {
    endToken();
    if (statement.length) statements.push(statement);
    statement = [];
  };
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === '\n' || c === '\r' || c === ';') {
      endStatement();
      i++;
    } else if (c === ' ' || c === '\t') {
      endToken();
      i++;
    } else if (c === '#' && statement.length === 0 && token === null) {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '\\' && src[i + 1] === '\n') {
      i += 2; // line continuation
    } else if (c === '"') {
      token ??= [];
      i++;
      let closed = false;
      while (i < src.length) {
        const d = src[i];
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\') {
          const e = src[i + 1];
          if (e === undefined) break;
          if (/[0-9A-Fa-f]/.test(e) && /[0-9A-Fa-f]/.test(src[i + 2] ?? '')) {
            lit(String.fromCharCode(parseInt(src.slice(i + 1, i + 3), 16)));
            i += 3;
          } else if (e === '\n') {
            i += 2;
          } else if (e in SIMPLE_ESCAPES) {
            lit(SIMPLE_ESCAPES[e]);
            i += 2;
          } else {
            throw new ScriptSyntaxError(`escape inválido \\${e}`);
          }
        } else if (d === '$') {
          const x = readDollar(src, i);
          token.push(x.part);
          i = x.end;
        } else {
          lit(d);
          i++;
        }
      }
      if (!closed) throw new ScriptSyntaxError('cadena sin cerrar');
    } else if (c === '$') {
      token ??= [];
      const x = readDollar(src, i);
      token.push(x.part);
      i = x.end;
    } else if (c === '[') {
      token ??= [];
      const b = readBracketed(src, i, '[', ']');
      token.push({ kind: 'cmd', text: b.text.trim() });
      i = b.end;
    } else {
      lit(c);
      i++;
    }
  }
  endStatement();
  return statements;
}

function rawText(statement: Token[]): string {
  return statement
    .map((t) => t.map((p) => (p.kind === 'lit' ? p.text : p.kind === 'var' ? `$${p.name}` : `[${p.text}]`)).join(''))
    .join(' ');
}

/** Run a script: a syntax error fails the whole script before anything runs (as RouterOS does). */
export function runScript(src: string, host: ScriptHost, outcome: ScriptOutcome = { executed: [], logins: [] }): ScriptOutcome {
  // RouterOS strings are bytes (`\XX` yields one byte): work on the source's UTF-8 bytes, decode values at the end.
  const statements = parseScript(Buffer.from(src, 'utf8').toString('latin1'));
  const text = (bytes: string) => decodeText(Buffer.from(bytes, 'latin1'));
  const vars = new Map<string, string>();
  const evaluate = (t: Token): string =>
    t
      .map((p) => {
        if (p.kind === 'lit') return p.text;
        if (p.kind === 'var') return vars.get(p.name) ?? '';
        outcome.executed.push(text(p.text));
        return '';
      })
      .join('');
  for (const st of statements) {
    const head = evaluate(st[0]);
    if (head === ':local' || head === ':global') {
      const name = st[1] ? evaluate(st[1]) : '';
      vars.set(name, st[2] ? evaluate(st[2]) : '');
      continue;
    }
    // Path words: `/ip hotspot active login` or `/ip/hotspot/active/login`, then key=value arguments.
    const path: string[] = [];
    let k = 0;
    for (; k < st.length; k++) {
      const isLiteralWord = st[k].every((p) => p.kind === 'lit') && !st[k].some((p) => p.kind === 'lit' && p.text.includes('='));
      if (!isLiteralWord) break;
      path.push(evaluate(st[k]));
    }
    const command = path.join(' ').replace(/\//g, ' ').trim().replace(/\s+/g, ' ');
    if (command === 'ip hotspot active login') {
      const attrs: Record<string, string> = {};
      for (const t of st.slice(k)) {
        const v = evaluate(t);
        const eq = v.indexOf('=');
        if (eq > 0) attrs[text(v.slice(0, eq))] = text(v.slice(eq + 1));
      }
      outcome.logins.push(attrs);
      host.login(attrs);
      continue;
    }
    outcome.executed.push(text(rawText(st)));
  }
  return outcome;
}
