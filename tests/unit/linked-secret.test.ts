// The cursor secret delivered by SST's `link` (shared/edge/linked-secret.ts): read from the
// encrypted links file a deployed function carries, or from SST_RESOURCE_<Name>, in the format
// SST's own `sst/resource` reads (checked against it), without importing it at run time.
import { execFileSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/edge/config.js';
import { CURSOR_SECRET_RESOURCE, linkedSecret } from '../../shared/edge/linked-secret.js';

const KEYS = 'k1:current-cursor-secret-45678,k0:previous-cursor-secret-0123';
const dir = mkdtempSync(path.join(tmpdir(), 'feedscale-links-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A links file as SST writes it into a function's bundle, and the environment SST sets. */
function linksFile(links: Record<string, unknown>): { SST_KEY: string; SST_KEY_FILE: string } {
  const key = randomBytes(32);
  const cipher = createCipheriv('aes-256-gcm', key, Buffer.alloc(12, 0));
  const data = Buffer.concat([cipher.update(JSON.stringify(links)), cipher.final(), cipher.getAuthTag()]);
  const file = path.join(dir, `resource-${randomBytes(4).toString('hex')}.enc`);
  writeFileSync(file, data);
  return { SST_KEY: key.toString('base64'), SST_KEY_FILE: file };
}

const secretLink = (value: string) => ({ [CURSOR_SECRET_RESOURCE]: { type: 'sst.sst.Secret', value } });

describe('the cursor secret linked by SST', () => {
  it('is read from the encrypted links file of a deployed function', () => {
    const env = linksFile({ App: { name: 'feedscale', stage: 'dev' }, ...secretLink(KEYS) });

    const c = loadConfig(env);

    expect(c.cursorKeys.map((k) => k.kid)).toEqual(['k1', 'k0']);
    expect(c.cursorSecret).toBe('current-cursor-secret-45678');
  });

  it('is encrypted in the format SST’s own sst/resource reads', () => {
    const env = linksFile(secretLink(KEYS));

    const script = `const { Resource } = await import('sst/resource'); process.stdout.write(Resource.${CURSOR_SECRET_RESOURCE}.value);`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });

    expect(out).toBe(KEYS);
    expect(linkedSecret(CURSOR_SECRET_RESOURCE, env)).toBe(KEYS);
  });

  it('is read from SST_RESOURCE_<Name> (sst dev, sst shell)', () => {
    const env = { [`SST_RESOURCE_${CURSOR_SECRET_RESOURCE}`]: JSON.stringify({ type: 'sst.sst.Secret', value: KEYS }) };

    expect(loadConfig(env).cursorKeys).toHaveLength(2);
  });

  it('gives way to FEED_CURSOR_SECRET when both are set', () => {
    const env = { ...linksFile(secretLink(KEYS)), FEED_CURSOR_SECRET: 'an-explicit-cursor-secret' };

    expect(loadConfig(env).cursorKeys).toEqual([{ kid: 'k0', secret: 'an-explicit-cursor-secret' }]);
  });

  it('is required outside the local stack: without link or variable, start-up fails naming both', () => {
    const env = linksFile({ App: { name: 'feedscale', stage: 'dev' } });

    expect(() => loadConfig(env)).toThrow(/FEED_CURSOR_SECRET.*FeedCursorSecret/);
    expect(() => loadConfig({ SST_KEY: env.SST_KEY, SST_KEY_FILE: path.join(dir, 'missing.enc') })).toThrow(/FEED_CURSOR_SECRET/);
  });

  it('fails loudly when the links file does not decrypt with the key', () => {
    const env = linksFile(secretLink(KEYS));

    expect(() => linkedSecret(CURSOR_SECRET_RESOURCE, { ...env, SST_KEY: randomBytes(32).toString('base64') })).toThrow();
  });
});
