import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBundles, type BuiltBundle } from '../../bench/bundles.js';

// Every handler is bundled as SST bundles it (esbuild, minified ESM) and must stay under 1 MB:
// a module-level import can pull a whole library into all 29 of them (`import { z } from 'zod'`
// alone is 454 kB of each; `import * as z` lets esbuild keep only what is used).
const LIMIT = 1_000_000;
const dir = mkdtempSync(path.join(tmpdir(), 'feedscale-bundles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('handler bundles', () => {
  let built: BuiltBundle[] = [];

  it('every handler builds', async () => {
    built = await buildBundles({ root: process.cwd(), outDir: dir });
    expect(built.filter((b) => b.error || !Number.isFinite(b.bytes))).toEqual([]);
  });

  it(`every handler bundle is under ${LIMIT / 1000} kB`, () => {
    expect(built.length).toBeGreaterThan(0);
    const over = built.filter((b) => b.bytes >= LIMIT).map((b) => `${b.fn} ${Math.round(b.bytes / 1000)} kB (${b.topPackages.map((p) => `${p.name} ${Math.round(p.bytes / 1000)}`).join(', ')})`);
    expect(over).toEqual([]);
  });

  it('zod is tree-shaken (namespace import), not bundled whole', () => {
    for (const b of built) {
      const zod = b.topPackages.find((p) => p.name === 'zod');
      expect(zod?.bytes ?? 0, b.fn).toBeLessThan(200_000);
    }
  });
});
