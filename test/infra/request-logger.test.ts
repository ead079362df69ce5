/** The per-request child logger writes exactly what pino's own child() writes, redaction included. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, requestChildLogger } from '../../src/infra/logging.js';

const capture = () => {
  const lines: string[] = [];
  return { lines, logger: createLogger('info', { write: (s: string) => void lines.push(s) }) };
};
const withoutTime = (line: string) => JSON.parse(line, (k, v) => (k === 'time' ? undefined : v));

describe('request child logger', () => {
  it('binds the request id like pino and still redacts secrets', () => {
    const { lines, logger } = capture();
    const entry = { body: { password: 'secreta', token_tarjeta: 'tok_x' }, headers: { authorization: 'Bearer x' } };
    logger.child({ reqId: 'req-1.A_b' }).warn(entry, 'mensaje');
    requestChildLogger(logger, { reqId: 'req-1.A_b' }, {}).warn(entry, 'mensaje');
    assert.equal(lines.length, 2);
    assert.deepEqual(withoutTime(lines[1]), withoutTime(lines[0]));
    const parsed = withoutTime(lines[1]);
    assert.equal(parsed.reqId, 'req-1.A_b');
    assert.equal(parsed.body.password, '[oculto]');
    assert.equal(parsed.headers.authorization, '[oculto]');
  });

  it('falls back to pino for anything but a plain request id', () => {
    const { lines, logger } = capture();
    requestChildLogger(logger, { reqId: 'a"b' }, {}).warn('x');
    requestChildLogger(logger, { reqId: 'ok', other: 1 }, {}).warn('y');
    assert.equal(withoutTime(lines[0]).reqId, 'a"b');
    assert.equal(withoutTime(lines[1]).other, 1);
  });

  it('keeps the parent level', () => {
    const { lines, logger } = capture();
    logger.level = 'warn';
    requestChildLogger(logger, { reqId: 'r' }, {}).info('hidden');
    assert.equal(lines.length, 0);
  });
});
