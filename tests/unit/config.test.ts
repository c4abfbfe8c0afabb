// Configuration (shared/edge/config.ts loadConfig): typed defaults, and a bad or missing value fails
// fast with the variable's name. Every case passes its own environment object.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/edge/config.js';

const LOCAL = { FEED_LOCAL: '1' };
const SECRET = 'a-cursor-secret-of-32-characters';

describe('loadConfig', () => {
  it('fills every default on the local stack', () => {
    const c = loadConfig({ ...LOCAL });
    expect(c).toMatchObject({
      FEED_SHARDS: 32,
      FEED_TABLE_PREFIX: 'feedscale-',
      FEED_FOLLOW_BACKFILL: 100,
      FEED_CELEBRITY_THRESHOLD: 100_000,
      FEED_MEGA_THRESHOLD: 10_000_000,
      FEED_LOCAL: '1',
      FEED_JWT_ISSUER: 'feedscale-local',
      FEED_JWT_AUDIENCE: 'feedscale',
      AWS_REGION: 'us-east-1',
      isLocal: true,
    });
    expect(c.DYNAMODB_ENDPOINT).toBeUndefined();
    expect(c.cursorSecret.length).toBeGreaterThanOrEqual(16);
    expect(c.devJwtSecret.length).toBeGreaterThanOrEqual(16);
  });

  it('returns a frozen object', () => {
    const c = loadConfig({ ...LOCAL });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads numbers from their strings', () => {
    const c = loadConfig({ ...LOCAL, FEED_SHARDS: '64', FEED_FOLLOW_BACKFILL: '0', FEED_CELEBRITY_THRESHOLD: '10', FEED_MEGA_THRESHOLD: '20' });
    expect(c).toMatchObject({ FEED_SHARDS: 64, FEED_FOLLOW_BACKFILL: 0, FEED_CELEBRITY_THRESHOLD: 10, FEED_MEGA_THRESHOLD: 20 });
  });

  it.each(['16', '32', '1024', '4096'])('accepts FEED_SHARDS=%s, a power of two from 16 to 4096', (value) => {
    expect(loadConfig({ ...LOCAL, FEED_SHARDS: value }).FEED_SHARDS).toBe(Number(value));
  });

  it.each(['12', '8', '8192', '48', '0', '-32', '32.5', 'many'])('refuses FEED_SHARDS=%s, naming the variable', (value) => {
    expect(() => loadConfig({ ...LOCAL, FEED_SHARDS: value })).toThrow(/FEED_SHARDS/);
  });

  it('refuses FEED_FOLLOW_BACKFILL above the feed cap of 800, naming it', () => {
    expect(() => loadConfig({ ...LOCAL, FEED_FOLLOW_BACKFILL: '801' })).toThrow(/FEED_FOLLOW_BACKFILL/);
    expect(loadConfig({ ...LOCAL, FEED_FOLLOW_BACKFILL: '800' }).FEED_FOLLOW_BACKFILL).toBe(800);
  });

  it('requires FEED_CURSOR_SECRET outside the local stack', () => {
    expect(() => loadConfig({})).toThrow(/FEED_CURSOR_SECRET/);
    expect(() => loadConfig({ FEED_LOCAL: '0' })).toThrow(/FEED_CURSOR_SECRET/);
  });

  it('uses FEED_CURSOR_SECRET when given, in AWS and locally', () => {
    const aws = loadConfig({ FEED_CURSOR_SECRET: SECRET });
    expect(aws.isLocal).toBe(false);
    expect(aws.cursorSecret).toBe(SECRET);
    expect(loadConfig({ ...LOCAL, FEED_CURSOR_SECRET: SECRET }).cursorSecret).toBe(SECRET);
  });

  it('refuses a FEED_CURSOR_SECRET shorter than 16 characters, naming it', () => {
    expect(() => loadConfig({ FEED_CURSOR_SECRET: 'short' })).toThrow(/FEED_CURSOR_SECRET/);
  });

  it('refuses FEED_LOCAL values other than 0 and 1', () => {
    expect(() => loadConfig({ FEED_LOCAL: 'yes', FEED_CURSOR_SECRET: SECRET })).toThrow(/FEED_LOCAL/);
  });

  it('refuses FEED_MEGA_THRESHOLD below FEED_CELEBRITY_THRESHOLD, naming both', () => {
    const attempt = () => loadConfig({ ...LOCAL, FEED_CELEBRITY_THRESHOLD: '1000', FEED_MEGA_THRESHOLD: '999' });
    expect(attempt).toThrow(/FEED_MEGA_THRESHOLD/);
    expect(attempt).toThrow(/FEED_CELEBRITY_THRESHOLD/);
  });

  it('accepts equal celebrity and mega thresholds', () => {
    expect(loadConfig({ ...LOCAL, FEED_CELEBRITY_THRESHOLD: '1000', FEED_MEGA_THRESHOLD: '1000' }).FEED_MEGA_THRESHOLD).toBe(1000);
  });

  it('names every bad variable at once', () => {
    let message = '';
    try {
      loadConfig({ ...LOCAL, FEED_SHARDS: '12', DYNAMODB_ENDPOINT: 'not a url' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/FEED_SHARDS/);
    expect(message).toMatch(/DYNAMODB_ENDPOINT/);
  });
});
