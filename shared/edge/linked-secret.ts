// Reads an SST linked resource (an `sst.Secret` passed in a function's `link`) the way SST's own
// `sst/resource` does, without importing it: its module-level cache reads the environment once per
// process, and configuration must re-read it (resetConfig). SST v4 delivers links in two ways:
// a variable SST_RESOURCE_<Name> holding the resource's JSON (`sst dev`, `sst shell`), or, in a
// deployed function, the file SST_KEY_FILE bundled beside the handler, AES-256-GCM encrypted with
// the base64 key in SST_KEY (12 zero bytes of nonce, the 16-byte tag last), holding
// `{ "<Name>": { "type": "sst.sst.Secret", "value": "..." }, ... }`.
import { createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** The sst.Secret holding the cursor signing keys (stacks/index.ts creates it). */
export const CURSOR_SECRET_RESOURCE = 'FeedCursorSecret';

/** AES-GCM's tag length, as SST writes it. */
const GCM_TAG_BYTES = 16;
/** SST encrypts each function's links with a fresh key, so a fixed nonce never repeats a key. */
const SST_NONCE = Buffer.alloc(12, 0);

const decrypted = new Map<string, Record<string, unknown>>();

/** The decrypted links file; read once per process (its content is fixed at deploy time). */
function linksFile(file: string, key: string): Record<string, unknown> {
  const cacheKey = `${file}\n${key}`;
  const cached = decrypted.get(cacheKey);
  if (cached) return cached;
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    // No links file: nothing is linked (the caller reports what is missing).
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(key, 'base64'), SST_NONCE);
  decipher.setAuthTag(data.subarray(-GCM_TAG_BYTES));
  const plain = Buffer.concat([decipher.update(data.subarray(0, -GCM_TAG_BYTES)), decipher.final()]);
  const links = JSON.parse(plain.toString('utf8')) as Record<string, unknown>;
  decrypted.set(cacheKey, links);
  return links;
}

const valueOf = (resource: unknown): string | undefined => {
  const value = (resource as { value?: unknown } | null)?.value;
  return typeof value === 'string' ? value : undefined;
};

/** The value of linked secret `name`, or undefined when it is not linked. A links file that
 *  cannot be decrypted throws: that is a broken deployment, not a missing link. */
export function linkedSecret(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const inline = env[`SST_RESOURCE_${name}`];
  if (inline) return valueOf(JSON.parse(inline));
  if (!env.SST_KEY || !env.SST_KEY_FILE) return undefined;
  return valueOf(linksFile(env.SST_KEY_FILE, env.SST_KEY)[name]);
}
