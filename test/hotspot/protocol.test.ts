/** RouterOS API wire format: length encoding, sentence reading under arbitrary splits, reply parsing. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ProtocolError,
  SentenceReader,
  decodeLength,
  decodeText,
  encodeLength,
  encodeSentence,
  encodeWord,
  parseReply,
  attributeWord,
  queryWord,
} from '../../src/modules/hotspot/routeros/protocol.js';

const EDGES: Array<[number, number[]]> = [
  [0, [0x00]],
  [0x7f, [0x7f]],
  [0x80, [0x80, 0x80]],
  [0x3fff, [0xbf, 0xff]],
  [0x4000, [0xc0, 0x40, 0x00]],
  [0x1fffff, [0xdf, 0xff, 0xff]],
  [0x200000, [0xe0, 0x20, 0x00, 0x00]],
  [0xfffffff, [0xef, 0xff, 0xff, 0xff]],
  [0x10000000, [0xf0, 0x10, 0x00, 0x00, 0x00]],
  [0xffffffff, [0xf0, 0xff, 0xff, 0xff, 0xff]],
];

describe('length encoding', () => {
  for (const [length, bytes] of EDGES) {
    it(`0x${length.toString(16)} ↔ ${bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')}`, () => {
      assert.deepEqual([...encodeLength(length)], bytes);
      assert.deepEqual(decodeLength(Buffer.from(bytes)), { length, size: bytes.length });
    });
  }

  it('round-trips every boundary ±1', () => {
    for (const edge of [0x80, 0x4000, 0x200000, 0x10000000]) {
      for (const n of [edge - 1, edge, edge + 1]) assert.equal(decodeLength(encodeLength(n)).length, n);
    }
  });

  it('refuses negative, fractional and too large lengths, and control bytes', () => {
    assert.throws(() => encodeLength(-1), ProtocolError);
    assert.throws(() => encodeLength(1.5), ProtocolError);
    assert.throws(() => encodeLength(0x100000000), ProtocolError);
    assert.throws(() => decodeLength(Buffer.from([0xf8, 0, 0, 0, 0])), ProtocolError);
    assert.throws(() => decodeLength(Buffer.from([0xc0, 0x40])), ProtocolError);
  });

  it('counts bytes, not characters, for non-ASCII words', () => {
    const w = encodeWord('=comment=Pagó €5');
    assert.equal(w[0], Buffer.byteLength('=comment=Pagó €5'));
    assert.equal(w.length, 1 + Buffer.byteLength('=comment=Pagó €5'));
  });
});

function stream(): { bytes: Buffer; sentences: string[][] } {
  const sentences = [
    ['!re', '=.id=*1', '=name=PT-0123', '=password=0123', '=comment=a=b=c', '.tag=7'],
    ['!re', `=source=${'x'.repeat(0x80 - 8)}`, '.tag=7'],
    ['!re', `=source=${'y'.repeat(0x4000)}`, '.tag=7'],
    ['!re', '=comment=Ñandú ☕', '.tag=7'],
    ['!empty', '.tag=8'],
    ['!done', '=ret=*1A', '.tag=7'],
    ['!trap', '=category=1', '=message=failure: already have user with this name for this server'],
    ['!fatal', 'session terminated on request'],
  ];
  return { bytes: Buffer.concat(sentences.map((s) => encodeSentence(s))), sentences };
}

describe('SentenceReader', () => {
  it('reads a stream delivered in one piece', () => {
    const { bytes, sentences } = stream();
    assert.deepEqual(new SentenceReader().push(bytes), sentences);
  });

  it('reads the same sentences whatever the split point (every byte)', () => {
    const { bytes, sentences } = stream();
    for (let cut = 1; cut < bytes.length; cut++) {
      const r = new SentenceReader();
      const got = [...r.push(bytes.subarray(0, cut)), ...r.push(bytes.subarray(cut))];
      assert.deepEqual(got, sentences, `split at ${cut}`);
    }
  });

  it('reads a stream delivered one byte at a time', () => {
    const { bytes, sentences } = stream();
    const r = new SentenceReader();
    const got: string[][] = [];
    for (let i = 0; i < bytes.length; i++) got.push(...r.push(bytes.subarray(i, i + 1)));
    assert.deepEqual(got, sentences);
  });

  it('reads words of exactly 0x7F, 0x80, 0x3FFF, 0x4000, 0x1FFFFF and 0x200000 bytes', () => {
    for (const n of [0x7f, 0x80, 0x3fff, 0x4000, 0x1fffff, 0x200000]) {
      const word = '=v=' + 'z'.repeat(n - 3);
      const bytes = encodeSentence(['!re', word]);
      const got = new SentenceReader({ maxWordBytes: 4 * 1024 * 1024 }).push(bytes);
      assert.equal(got[0][1].length, n);
    }
  });

  it('refuses a word longer than its limit and control bytes', () => {
    assert.throws(() => new SentenceReader(100).push(Buffer.concat([encodeLength(101), Buffer.alloc(3)])), ProtocolError);
    assert.throws(() => new SentenceReader().push(Buffer.from([0xf9])), ProtocolError);
  });

  it('decodes UTF-8 when valid and Latin-1 otherwise (never fails, never drops bytes)', () => {
    assert.equal(decodeText(Buffer.from('Ñandú', 'utf8')), 'Ñandú');
    assert.equal(decodeText(Buffer.from([0x43, 0x61, 0x66, 0xe9])), 'Café');
  });
});

describe('reply parsing and word building', () => {
  it('splits attributes at the second "=", keeps values as strings, extracts the tag', () => {
    const r = parseReply(['!re', '=.id=*1', '=password=0123', '=comment=MODE=1 TL=2', '=empty=', '.tag=42']);
    assert.equal(r.type, '!re');
    assert.equal(r.tag, '42');
    assert.deepEqual(r.attrs, { '.id': '*1', password: '0123', comment: 'MODE=1 TL=2', empty: '' });
  });

  it('keeps the message of !fatal', () => {
    assert.deepEqual(parseReply(['!fatal', 'session terminated on request']).other, ['session terminated on request']);
  });

  it('builds attribute and query words, booleans as yes/no, and refuses odd property names', () => {
    assert.equal(attributeWord('disabled', false), '=disabled=no');
    assert.equal(attributeWord('limit-uptime', '1h'), '=limit-uptime=1h');
    assert.equal(queryWord('name', 'PT-1'), '?=name=PT-1');
    assert.throws(() => attributeWord('name=x', 'y'), ProtocolError);
    assert.throws(() => queryWord('a b', 'y'), ProtocolError);
  });
});
