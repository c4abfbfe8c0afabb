// The layout's rules, checked on the source: which folder may import which (README "Layout"),
// and that DynamoDB commands are built in the store alone, so that where a row lives (region,
// table, partition) is decided in one place.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../shared/local/lambda.js';

/** What each folder may import, besides itself and npm packages. Type-only imports are allowed
 *  more widely (a shape is not a dependency on behaviour); they are listed under `types`. */
const RULES: Record<string, { values: string[]; types?: string[] }> = {
  'shared/domain': { values: ['shared/edge/config.ts'] },
  'shared/store': { values: ['shared/domain', 'shared/declarations', 'shared/edge/config.ts', 'shared/edge/observability.ts', 'shared/edge/deadline.ts', 'shared/edge/network.ts'] },
  'shared/cache': { values: ['shared/domain', 'shared/edge/config.ts', 'shared/edge/observability.ts', 'shared/edge/deadline.ts'], types: ['shared/services'] },
  'shared/messaging': { values: ['shared/domain', 'shared/declarations', 'shared/edge/config.ts', 'shared/edge/observability.ts'] },
  'shared/services': {
    values: ['shared/domain', 'shared/store', 'shared/cache', 'shared/messaging', 'shared/declarations', 'shared/edge/config.ts', 'shared/edge/observability.ts', 'shared/edge/network.ts', 'workflows'],
  },
  'shared/edge': { values: ['shared/domain', 'shared/declarations', 'shared/cache'], types: ['shared/services'] },
  'shared/declarations': { values: ['shared/domain', 'shared/edge/config.ts'] },
  // A workflow Task's handler reads its own state machine's constants (page and chunk sizes).
  functions: { values: ['shared/edge', 'shared/services', 'shared/domain', 'shared/declarations', 'workflows'] },
};

/** Packages whose commands only the store sends (the local stack and the bench run engines and
 *  measure them, so they keep their own). */
const DYNAMODB_COMMAND_PACKAGES = ['@aws-sdk/lib-dynamodb', '@aws-sdk/client-dynamodb'];
const STORE_ONLY_EXEMPT = ['shared/store', 'shared/local'];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(ROOT, dir))) {
    const rel = path.join(dir, name);
    if (statSync(path.join(ROOT, rel)).isDirectory()) out.push(...sources(rel));
    else if (name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

interface Import { spec: string; typeOnly: boolean }
function importsOf(file: string): Import[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const found: Import[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+['"]([^'"]+)['"]/gms)) {
    found.push({ spec: m[3]!, typeOnly: Boolean(m[2]) });
  }
  return found;
}

/** The repo-relative .ts file a relative import names. */
const resolved = (file: string, spec: string) => path.normalize(path.join(path.dirname(file), spec)).replace(/\.js$/, '.ts');
const within = (target: string, allowed: string) => target === allowed || target.startsWith(`${allowed}/`);
const folderOf = (file: string) => Object.keys(RULES).find((folder) => within(file, folder));

describe('layout', () => {
  const files = [...sources('shared'), ...sources('functions')];

  it('each folder imports only the folders its layer may use', () => {
    const violations: string[] = [];
    for (const file of files) {
      const folder = folderOf(file);
      if (!folder) continue;
      const rule = RULES[folder]!;
      for (const imp of importsOf(file)) {
        if (!imp.spec.startsWith('.')) continue;
        const target = resolved(file, imp.spec);
        const allowed = [folder, ...rule.values, ...(imp.typeOnly ? (rule.types ?? []) : [])];
        if (!allowed.some((a) => within(target, a))) violations.push(`${file} → ${target}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('builds DynamoDB commands in the store alone', () => {
    const violations = files
      .filter((file) => !STORE_ONLY_EXEMPT.some((dir) => within(file, dir)))
      .flatMap((file) => importsOf(file).filter((imp) => !imp.typeOnly && DYNAMODB_COMMAND_PACKAGES.includes(imp.spec)).map(() => file));
    expect(violations).toEqual([]);
  });

  it('gives every file name one meaning across the tree', () => {
    const byName = new Map<string, string[]>();
    for (const file of [...sources('shared'), ...sources('functions'), ...sources('stacks'), ...sources('workflows')]) {
      const name = path.basename(file);
      byName.set(name, [...(byName.get(name) ?? []), file]);
    }
    // A stacks/ module deploys what the declaration of the same subject declares, and what the
    // local stack runs in its place; a subject's policy (domain), use case (services) and rows
    // (store) share its name. Those are one subject seen from two layers, named alike on purpose.
    const pairs = [['shared/declarations', 'stacks'], ['shared/local', 'stacks'], ['shared/services', 'shared/store'], ['shared/domain', 'shared/services'], ['shared/domain', 'shared/store']];
    const clashes = [...byName.entries()].filter(([, paths]) => {
      if (paths.length < 2) return false;
      const dirs = paths.map((p) => path.dirname(p)).sort();
      return !(paths.length === 2 && pairs.some((pair) => [...pair].sort().join() === dirs.join()));
    });
    expect(clashes).toEqual([]);
  });
});
