/**
 * The v7 login script: our quoting (`routerosString`) read back by the simulator's RouterOS script
 * interpreter gives exactly the original value for any input, and the interpreter does catch injection
 * when values are quoted naively (so the HTTP injection tests are able to fail).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { buildLoginScript } from '../../src/modules/hotspot/autoconnect.js';
import { routerosString, normaliseMac, normaliseClientIp, looksLikeMac, durationToSeconds, minutesToDuration, secondsToDuration } from '../../src/modules/hotspot/validation.js';
import { runScript } from '../../sandbox/routeros/index.js';

function roundTrip(value: string): { value: string; executed: string[] } {
  const logins: Array<Record<string, string>> = [];
  const out = runScript(`:local v ${routerosString(value)}\n/ip hotspot active login user=$v password=x ip=10.0.0.1`, { login: (a) => void logins.push(a) });
  return { value: logins[0]?.user, executed: out.executed };
}

describe('RouterOS script quoting', () => {
  const nasty = ['"', '\\', '$', '$[/system reboot]', '$(1+1)', '"\n/system reboot\n"', 'a;b', '\r\n', '?', '#', '[/x]', '\t', 'ñ', '€', '\\XX', '\\"', '$user', ''];
  for (const v of nasty) {
    it(`keeps ${JSON.stringify(v)} as data`, () => {
      const r = roundTrip(v);
      assert.equal(r.value, v);
      assert.deepEqual(r.executed, []);
    });
  }

  it('keeps random printable and binary-ish strings as data', () => {
    for (let i = 0; i < 300; i++) {
      const v = Buffer.from(randomBytes(1 + (i % 40)).map((b) => 0x20 + (b % 95))).toString('latin1');
      const r = roundTrip(v);
      assert.equal(r.value, v, JSON.stringify(v));
      assert.deepEqual(r.executed, []);
    }
  });

  it('the interpreter detects injection when a value is quoted naively', () => {
    const naive = (v: string) => `:local v "${v}"\n/ip hotspot active login user=$v password=x ip=10.0.0.1`;
    assert.deepEqual(runScript(naive('$[/system reboot]'), { login: () => undefined }).executed, ['/system reboot']);
    assert.deepEqual(runScript(naive('x"\n/user add name=evil group=full\n:local y "'), { login: () => undefined }).executed, ['/user add name=evil group=full']);
  });

  it('builds the four-locals script of the legacy with escaped values', () => {
    const script = buildLoginScript({ user: 'PT-7QK2M', pass: 'a"b', mac: 'AA:BB:CC:DD:EE:01', ip: '10.5.50.11' });
    assert.equal(
      script,
      [
        ':local user "PT-7QK2M"',
        ':local pass "a\\22b"',
        ':local mac "AA:BB:CC:DD:EE:01"',
        ':local ip "10.5.50.11"',
        '',
        '/ip hotspot active login user=$user password=$pass ip=$ip mac-address=$mac',
      ].join('\n'),
    );
  });
});

describe('client input validation', () => {
  it('accepts only real MAC addresses and canonicalises them', () => {
    assert.equal(normaliseMac('aa-bb-cc-dd-ee-ff'), 'AA:BB:CC:DD:EE:FF');
    assert.equal(normaliseMac(' AA:BB:CC:DD:EE:FF '), 'AA:BB:CC:DD:EE:FF');
    for (const bad of ['AA:BB:CC:DD:EE', 'AA:BB-CC:DD:EE:FF', 'AA:BB:CC:DD:EE:FF"', 'AA:BB:CC:DD:EE:FF\nX', 'GG:BB:CC:DD:EE:FF', 'aabb.ccdd.eeff', '', '$[x]']) {
      assert.equal(normaliseMac(bad), null, bad);
    }
  });

  it('accepts only IPv4 addresses (empty and 0.0.0.0 mean "discover")', () => {
    assert.deepEqual(normaliseClientIp('10.5.50.11'), { ok: true, ip: '10.5.50.11' });
    assert.deepEqual(normaliseClientIp(''), { ok: true, ip: null });
    assert.deepEqual(normaliseClientIp(null), { ok: true, ip: null });
    assert.deepEqual(normaliseClientIp('0.0.0.0'), { ok: true, ip: null });
    for (const bad of ['10.5.50.256', '10.5.50', '10.5.50.1"', '::1', '10.5.50.1\n/system reboot']) assert.deepEqual(normaliseClientIp(bad), { ok: false }, bad);
  });

  it('recognises MAC-shaped user names like the legacy es_mac', () => {
    for (const v of ['AA:BB:CC:DD:EE:FF', 'aa-bb-cc-dd-ee-ff', 'AA.BB.CC.DD.EE.FF']) assert.equal(looksLikeMac(v), true, v);
    for (const v of ['PT-7QK2M', 'AABBCCDDEEFF']) assert.equal(looksLikeMac(v), false, v);
  });

  it('converts RouterOS durations', () => {
    assert.equal(minutesToDuration(90), '1h30m');
    assert.equal(minutesToDuration(1440), '1d');
    assert.equal(durationToSeconds('1w2d3h4m5s'), 788645);
    assert.equal(durationToSeconds('01:00:00'), 3600);
    assert.equal(durationToSeconds('1d 02:00:00'), 93600);
    assert.equal(durationToSeconds('bogus'), null);
    assert.equal(secondsToDuration(3000), '50m');
  });
});
