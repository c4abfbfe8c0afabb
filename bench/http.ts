// The bench's own HTTP calls to the local API (beside the load generator's): JSON in and out for
// posting and polling a feed, raw bytes and headers for the bare server's copy of a page.

/** Time allowed to one call: the API answers in well under a second even under load. */
const CALL_TIMEOUT_MS = 10_000;

export async function httpJson(base: string, method: string, pathname: string, token?: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}${pathname}`, {
    method,
    headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

export async function httpRaw(base: string, pathname: string, token: string): Promise<{ body: Buffer; headers: [string, string][] }> {
  const res = await fetch(`${base}${pathname}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
  if (res.status !== 200) throw new Error(`GET ${pathname} answered ${res.status}`);
  return { body: Buffer.from(await res.arrayBuffer()), headers: [...res.headers.entries()] };
}
