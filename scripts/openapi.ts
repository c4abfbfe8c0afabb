// The request side of shared/declarations/openapi.json, generated from the zod schemas the
// handlers validate with (each `api()` handler carries its spec): bodies, query and path
// parameters. The hand-written prose (descriptions, examples) and the responses are kept; the
// structural keywords are replaced. `npm run openapi` rewrites the file; a unit test fails on drift.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as z from 'zod';
import type { ApiSpec } from '../shared/edge/http.js';
import { FUNCTIONS } from '../shared/declarations/functions.js';
import { ROUTES, type Route } from '../shared/declarations/routes.js';
import { ROOT } from '../shared/local/lambda.js';

type Json = Record<string, unknown>;
export interface OpenApiDoc {
  paths: Record<string, Record<string, unknown>>;
  components: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}
export interface RouteSpec {
  route: Route;
  spec: ApiSpec;
}

export const OPENAPI_FILE = path.join(ROOT, 'shared/declarations/openapi.json');
/** Prose a writer adds to a schema; everything else is generated. */
const PROSE = ['description', 'examples', 'example', 'title'];

const isJson = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON Schema of a zod schema as the client sends it (`input`) or as it is understood (`output`:
 *  a query's `limit` is an integer 1..100 with a default, though it arrives as a string). */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as Json;
  return rest;
}

/** The generated schema with the prose of the old one (recursively through properties). */
function merge(old: unknown, generated: Json): Json {
  const out: Json = { ...generated };
  if (!isJson(old)) return out;
  for (const key of PROSE) if (old[key] !== undefined) out[key] = old[key];
  if (isJson(generated.properties)) {
    const oldProps = isJson(old.properties) ? old.properties : {};
    out.properties = Object.fromEntries(Object.entries(generated.properties).map(([k, v]) => [k, merge(oldProps[k], v as Json)]));
  }
  return out;
}

function resolve(doc: OpenApiDoc, node: unknown): Json {
  if (!isJson(node) || typeof node.$ref !== 'string') return node as Json;
  const [, , section, name] = node.$ref.split('/');
  const target = doc.components[section!]?.[name!];
  if (!isJson(target)) throw new Error(`unresolved ${node.$ref}`);
  return target;
}

/** Writes `generated` where `holder[key]` is, or into the component it references. */
function place(doc: OpenApiDoc, holder: Json, key: string, generated: Json): void {
  const at = holder[key];
  if (isJson(at) && typeof at.$ref === 'string') {
    const [, , section, name] = at.$ref.split('/');
    doc.components[section!]![name!] = merge(resolve(doc, at), generated);
  } else {
    holder[key] = merge(at, generated);
  }
}

function applyParameters(doc: OpenApiDoc, where: string, declared: Json[], schema: z.ZodType | undefined, kind: 'path' | 'query'): void {
  const params = declared.map((p) => resolve(doc, p)).filter((p) => p.in === kind);
  const output = schema ? jsonSchema(schema, kind === 'query' ? 'output' : 'input') : { properties: {} };
  const input = schema ? jsonSchema(schema, 'input') : { required: [] };
  const properties = (output.properties ?? {}) as Record<string, Json>;
  const required = new Set((input.required ?? []) as string[]);
  const names = Object.keys(properties);
  const documented = params.map((p) => p.name as string);
  const missing = names.filter((n) => !documented.includes(n));
  const extra = documented.filter((n) => !names.includes(n));
  if (missing.length > 0 || extra.length > 0) {
    throw new Error(`${where}: ${kind} parameters in the document [${documented}] differ from the handler's schema [${names}]`);
  }
  for (const p of params) {
    const name = p.name as string;
    p.required = kind === 'path' || required.has(name);
    place(doc, p, 'schema', properties[name]!);
  }
}

/** `doc` with every route's request schemas regenerated from its handler's spec. */
export function applyRequestSchemas(source: OpenApiDoc, routes: readonly RouteSpec[]): OpenApiDoc {
  const doc = structuredClone(source);
  for (const { route, spec } of routes) {
    const where = `${route.method} ${route.path}`;
    const item = doc.paths[route.path];
    const op = item?.[route.method.toLowerCase()];
    if (!isJson(item) || !isJson(op)) throw new Error(`${where} is not in the OpenAPI document`);
    const declared = [...((item.parameters as Json[] | undefined) ?? []), ...((op.parameters as Json[] | undefined) ?? [])];
    applyParameters(doc, where, declared, spec.params, 'path');
    applyParameters(doc, where, declared, spec.query, 'query');
    if (!spec.body) {
      if (op.requestBody !== undefined) throw new Error(`${where} documents a request body its handler does not take`);
      continue;
    }
    const media = ((op.requestBody as Json | undefined)?.content as Json | undefined)?.['application/json'];
    if (!isJson(media)) throw new Error(`${where} takes a JSON body the document does not describe`);
    place(doc, media, 'schema', jsonSchema(spec.body, 'input'));
  }
  return doc;
}

/** Every route's spec, from the handler module the route names (as the local stack loads it). */
export async function loadRouteSpecs(): Promise<RouteSpec[]> {
  return Promise.all(
    ROUTES.map(async (route) => {
      const mod = (await import(pathToFileURL(path.join(ROOT, FUNCTIONS[route.fn].file)).href)) as { handler?: { spec?: ApiSpec } };
      if (!mod.handler?.spec) throw new Error(`${FUNCTIONS[route.fn].file} has no api() handler`);
      return { route, spec: mod.handler.spec };
    }),
  );
}

export const serialize = (doc: OpenApiDoc): string => `${JSON.stringify(doc, null, 2)}\n`;

/** The document as `npm run openapi` writes it. */
export async function generatedOpenApi(): Promise<string> {
  const committed = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as OpenApiDoc;
  return serialize(applyRequestSchemas(committed, await loadRouteSpecs()));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(OPENAPI_FILE, await generatedOpenApi());
  console.log(`wrote ${path.relative(process.cwd(), OPENAPI_FILE)}`);
  process.exit(0);
}
