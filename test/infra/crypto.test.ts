import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Fernet } from '../../src/infra/crypto/fernet.js';
import { SecretUnreadableError, createSecretBoxes } from '../../src/infra/crypto/secrets.js';
import { PasswordHasher } from '../../src/modules/auth/passwords.js';

const fixtures = JSON.parse(readFileSync(new URL('../fixtures/legacy-fixtures.json', import.meta.url), 'utf8'));

describe('Fernet compatibility with Python cryptography', () => {
  const f = new Fernet(fixtures.fernet.key);

  it('decrypts tokens made by Python', () => {
    assert.equal(f.decrypt(fixtures.fernet.token), fixtures.fernet.plaintext);
    assert.equal(f.decrypt(fixtures.fernet.unicode_token), fixtures.fernet.unicode_plaintext);
  });

  it('produces byte-identical tokens for the same time and IV', () => {
    const token = f.encrypt(fixtures.fernet.plaintext, new Date(fixtures.fernet.fixed_time * 1000), Buffer.from(fixtures.fernet.fixed_iv_hex, 'hex'));
    assert.equal(token, fixtures.fernet.fixed_token);
  });

  it('refuses a tampered token and a token of another key', () => {
    const token: string = fixtures.fernet.token;
    const tampered = token.slice(0, 20) + (token[20] === 'A' ? 'B' : 'A') + token.slice(21);
    assert.throws(() => f.decrypt(tampered));
    assert.throws(() => new Fernet(Fernet.generateKey()).decrypt(token));
  });

  it('refuses malformed keys', () => {
    assert.throws(() => new Fernet('short'));
    assert.throws(() => new Fernet('!'.repeat(44)));
  });
});

describe('secrets at rest', () => {
  it('reads legacy plaintext, and values written under either key', () => {
    const withoutMp = createSecretBoxes('master-secret', '');
    const stored = withoutMp.mercadoPago.encrypt('APP_USR-token')!;
    assert.notEqual(stored, 'APP_USR-token');
    // Later the operator configures ENCRYPTION_KEY_MERCADO_PAGO: old values still open.
    const withMp = createSecretBoxes('master-secret', fixtures.fernet.key);
    assert.equal(withMp.mercadoPago.decrypt(stored), 'APP_USR-token');
    assert.equal(withMp.mercadoPago.decrypt(fixtures.fernet.token), fixtures.fernet.plaintext);
    assert.equal(withMp.mercadoPago.decrypt('legacy-clear-text'), 'legacy-clear-text');
    // New writes use the configured key, readable by Python's Fernet with that key.
    assert.equal(new Fernet(fixtures.fernet.key).decrypt(withMp.mercadoPago.encrypt('nuevo')!), 'nuevo');
  });

  it('blank means no secret, and an unreadable token is an error, not a bogus secret', () => {
    const boxes = createSecretBoxes('master-secret', '');
    assert.equal(boxes.general.encrypt(''), null);
    assert.equal(boxes.mercadoPago.encrypt('   '), null);
    // Passwords keep their spaces; Mercado Pago tokens are trimmed like the legacy did.
    assert.equal(boxes.general.decrypt(boxes.general.encrypt(' clave con espacios ')), ' clave con espacios ');
    assert.equal(boxes.mercadoPago.decrypt(boxes.mercadoPago.encrypt(' APP_USR-1 ')), 'APP_USR-1');
    assert.equal(boxes.general.decrypt(null), null);
    const foreign = new Fernet(Fernet.generateKey()).encrypt('x');
    assert.throws(() => boxes.general.decrypt(foreign), SecretUnreadableError);
  });

  it('a token opened before does not vouch for a tampered copy of it, and more tokens than it remembers all open', () => {
    const boxes = createSecretBoxes('master-secret', '');
    const stored = boxes.general.encrypt('sk_live_clave')!;
    assert.equal(boxes.general.decrypt(stored), 'sk_live_clave');
    assert.equal(boxes.general.decrypt(stored), 'sk_live_clave');
    for (const i of [30, 60, stored.length - 6]) {
      const tampered = stored.slice(0, i) + (stored[i] === 'A' ? 'B' : 'A') + stored.slice(i + 1);
      assert.throws(() => boxes.general.decrypt(tampered), SecretUnreadableError, `byte ${i}`);
    }
    const many = Array.from({ length: 1500 }, (_, i) => [`secreto-${i}`, boxes.general.encrypt(`secreto-${i}`)!] as const);
    for (const [plain, token] of many) assert.equal(boxes.general.decrypt(token), plain);
    for (const [plain, token] of many.slice(0, 50)) assert.equal(boxes.general.decrypt(token), plain);
    // Another box (another key) does not open what this one remembered.
    assert.throws(() => createSecretBoxes('otra-clave', '').general.decrypt(stored), SecretUnreadableError);
  });
});

describe('bcrypt compatibility with Python bcrypt', () => {
  const hasher = new PasswordHasher(4);
  it('verifies $2b$12$ and $2a$ hashes made by Python', async () => {
    assert.equal(await hasher.verify(fixtures.bcrypt.password, fixtures.bcrypt.hash), true);
    assert.equal(await hasher.verify(fixtures.bcrypt.password, fixtures.bcrypt.hash_2a), true);
    assert.equal(await hasher.verify('wrong', fixtures.bcrypt.hash), false);
  });
  it('treats corrupt hashes as a mismatch, not an error', async () => {
    assert.equal(await hasher.verify('x', 'not-a-hash'), false);
    assert.equal(await hasher.verify('x', null), false);
  });
  it('hashes with $2b$ at the configured cost', async () => {
    const h = await new PasswordHasher(5).hash('abc');
    assert.match(h, /^\$2b\$05\$/);
  });
});
