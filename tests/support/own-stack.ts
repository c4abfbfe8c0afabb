// For test files that run a local stack of their own (their own thresholds, table prefix or
// redis-server): a tiny HTTP client bound to that stack, users minted through it, and a bounded
// poll.
export interface StackUser {
  token: string;
  userId: string;
}

export interface StackClient {
  http(method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** A new user with a profile; `country` decides the home region. */
  user(country?: string): Promise<StackUser>;
}

export function stackClient(base: () => string, label: string): StackClient {
  let n = 0;
  const http: StackClient['http'] = async (method, path, token, body) => {
    const res = await fetch(`${base()}${path}`, {
      method,
      headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  return {
    http,
    async user(country = 'US') {
      const i = n++;
      const { body } = await http('POST', '/v1/dev/token', undefined, { sub: `${label}-${process.pid}-${i}` });
      const created = await http('POST', '/v1/users', body.token, { handle: `${label[0]}${process.pid}_${i}`.slice(0, 30), displayName: label, country });
      if (created.status !== 201) throw new Error(`create user: ${created.status} ${JSON.stringify(created.body)}`);
      return { token: body.token, userId: created.body.userId };
    },
  };
}

/** Polls `probe` until it returns a truthy value, at most `ms`. */
export async function until<T>(probe: () => Promise<T | false | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
