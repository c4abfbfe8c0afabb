// Checks HTTP responses against shared/declarations/openapi.json, the API's published contract, so that the
// handlers and the document cannot drift apart: integration and e2e tests call
// assertConforms(method, path, status, body) on what the API actually answered.
// Schemas are validated with Ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1) + ajv-formats.
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';

/** The parts of an OpenAPI 3.1 document this module reads; everything else passes through. */
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; [key: string]: unknown };
  paths: Record<string, Record<string, unknown>>;
  components?: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}

type JsonObject = Record<string, unknown>;

const DOC_URL = new URL('../../shared/declarations/openapi.json', import.meta.url);

/** shared/declarations/openapi.json, parsed. */
export const openApiDocument: OpenApiDocument = JSON.parse(readFileSync(DOC_URL, 'utf8')) as OpenApiDocument;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
/** Base URI under which a document is registered with Ajv, so "#/components/..." refs resolve. */
const DOC_ID = 'https://feedscale.invalid/openapi.json';
/** Keywords the OpenAPI 3.1 base dialect adds to JSON Schema 2020-12. */
const OAS_SCHEMA_KEYWORDS = ['discriminator', 'xml', 'externalDocs', 'example'];

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// ---- JSON pointers and $ref -------------------------------------------------------------------

const escapeToken = (token: string) => token.replace(/~/g, '~0').replace(/\//g, '~1');
const unescapeToken = (token: string) => token.replace(/~1/g, '/').replace(/~0/g, '~');
const pointerOf = (tokens: readonly string[]) => tokens.map((t) => `/${escapeToken(t)}`).join('');

/** The value at a JSON pointer ("" is the whole document); undefined when there is none. */
function valueAtPointer(root: unknown, pointer: string): unknown {
  if (pointer === '') return root;
  if (!pointer.startsWith('/')) return undefined;
  let node: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const token = unescapeToken(raw);
    if (Array.isArray(node)) node = /^(0|[1-9]\d*)$/.test(token) ? node[Number(token)] : undefined;
    else if (isObject(node)) node = Object.prototype.hasOwnProperty.call(node, token) ? node[token] : undefined;
    else return undefined;
    if (node === undefined) return undefined;
  }
  return node;
}

/** Resolves a local reference ("#/components/schemas/User") in `doc`; throws when it does not. */
export function resolveRef(ref: string, doc: OpenApiDocument = openApiDocument): unknown {
  if (!ref.startsWith('#')) throw new Error(`$ref ${ref} is not a local reference (only "#/..." is supported)`);
  let pointer: string;
  try {
    pointer = decodeURIComponent(ref.slice(1));
  } catch {
    throw new Error(`$ref ${ref} is not a valid URI fragment`);
  }
  const value = valueAtPointer(doc, pointer);
  if (value === undefined) throw new Error(`$ref ${ref} does not resolve`);
  return value;
}

/** Every $ref in `doc`, with the JSON pointer of the object that holds it. */
export function collectRefs(doc: OpenApiDocument = openApiDocument): { at: string; ref: string }[] {
  const found: { at: string; ref: string }[] = [];
  const walk = (node: unknown, tokens: string[]) => {
    if (Array.isArray(node)) node.forEach((item, i) => walk(item, [...tokens, String(i)]));
    else if (isObject(node)) {
      for (const [key, value] of Object.entries(node)) {
        if (key === '$ref' && typeof value === 'string') found.push({ at: pointerOf(tokens), ref: value });
        else walk(value, [...tokens, key]);
      }
    }
  };
  walk(doc, []);
  return found;
}

/** Follows a chain of Reference Objects to the object they name, keeping its JSON pointer. */
function deref(doc: OpenApiDocument, node: unknown, pointer: string): { node: unknown; pointer: string } {
  const seen = new Set<string>();
  while (isObject(node) && typeof node.$ref === 'string') {
    const ref = node.$ref;
    if (seen.has(ref)) throw new Error(`$ref cycle through ${ref}`);
    seen.add(ref);
    node = resolveRef(ref, doc);
    pointer = decodeURIComponent(ref.slice(1));
  }
  return { node, pointer };
}

// ---- Ajv ----------------------------------------------------------------------------------------

// ajv-formats is CommonJS with `exports.default`; depending on the loader the default import is
// the plugin itself or the module object holding it.
type FormatsPlugin = (ajv: Ajv2020) => Ajv2020;
const addFormats: FormatsPlugin =
  ((ajvFormats as unknown as { default?: FormatsPlugin }).default ?? (ajvFormats as unknown as FormatsPlugin));

interface Compiled {
  ajv: Ajv2020;
  validators: Map<string, ValidateFunction>;
}
const compiledDocs = new WeakMap<OpenApiDocument, Compiled>();

function compiled(doc: OpenApiDocument): Compiled {
  let entry = compiledDocs.get(doc);
  if (!entry) {
    // strict: schema typos (unknown keywords, misplaced constraints) are errors, not silent passes.
    const ajv = new Ajv2020({ allErrors: true, strict: true, validateFormats: true });
    addFormats(ajv);
    // The OpenAPI base dialect's extra schema keywords are annotations: accepted, never checked.
    for (const keyword of OAS_SCHEMA_KEYWORDS) ajv.addKeyword(keyword);
    // The whole document is registered once, so refs into components resolve from any schema.
    // Ajv compiles that root as a schema on first use; its top-level OpenAPI fields (paths, info,
    // ...) become no-op keywords there, so strict mode stays on for the real schemas.
    for (const key of Object.keys(doc)) if (!ajv.getKeyword(key) && !key.startsWith('$')) ajv.addKeyword(key);
    ajv.addSchema({ ...doc, $id: DOC_ID }, undefined, undefined, false);
    entry = { ajv, validators: new Map() };
    compiledDocs.set(doc, entry);
  }
  return entry;
}

/** The validator of the schema at `pointer` in `doc` (compiled once). */
function validatorAt(doc: OpenApiDocument, pointer: string): ValidateFunction {
  const { ajv, validators } = compiled(doc);
  let validate = validators.get(pointer);
  if (!validate) {
    const fragment = pointer.split('/').map(encodeURIComponent).join('/');
    validate = ajv.compile({ $ref: `${DOC_ID}#${fragment}` });
    validators.set(pointer, validate);
  }
  return validate;
}

const preview = (value: unknown, max = 600): string => {
  let text: string;
  try {
    text = value === undefined ? 'undefined' : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
};

function describeError(error: ErrorObject, body: unknown): string {
  const at = error.instancePath || '(root)';
  const params = error.params as Record<string, unknown>;
  const got = preview(valueAtPointer(body, error.instancePath), 120);
  switch (error.keyword) {
    case 'additionalProperties':
      return `${at}: unexpected property "${String(params.additionalProperty)}"`;
    case 'required':
      return `${at}: missing required property "${String(params.missingProperty)}"`;
    case 'enum':
      return `${at}: ${got} is not one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${at}: ${error.message ?? error.keyword} (got ${got})`;
  }
}

// ---- operations and responses -------------------------------------------------------------------

export interface OperationMatch {
  operationId: string;
  method: string;
  /** The templated path of the document, e.g. "/v1/users/{userId}". */
  template: string;
  operation: JsonObject;
  /** JSON pointer of the operation in the document. */
  pointer: string;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Only the path part of "/v1/x?limit=2", "http://host/v1/x#y" and the like. */
function pathOnly(path: string): string {
  if (/^https?:\/\//i.test(path)) return new URL(path).pathname;
  return path.split(/[?#]/, 1)[0] ?? path;
}

/** The operation serving a concrete request path (query string ignored); throws when none does.
 *  A literal path segment wins over a template parameter. */
export function findOperation(method: string, path: string, doc: OpenApiDocument = openApiDocument): OperationMatch {
  const concrete = pathOnly(path);
  const candidates = Object.keys(doc.paths)
    .map((template) => {
      const params = template.match(/\{[^}/]+\}/g)?.length ?? 0;
      const pattern = template
        .split(/(\{[^}/]+\})/)
        .map((part) => (/^\{[^}/]+\}$/.test(part) ? '[^/]+' : escapeRegExp(part)))
        .join('');
      return { template, params, regex: new RegExp(`^${pattern}$`) };
    })
    .filter((c) => c.regex.test(concrete))
    .sort((a, b) => a.params - b.params);
  const best = candidates[0];
  if (!best) throw new Error(`no path of the OpenAPI document matches ${concrete}`);
  const lower = method.toLowerCase();
  const pathItem = deref(doc, doc.paths[best.template], pointerOf(['paths', best.template])).node;
  const operation = isObject(pathItem) ? pathItem[lower] : undefined;
  if (!isObject(operation)) {
    const declared = isObject(pathItem) ? HTTP_METHODS.filter((m) => isObject(pathItem[m])) : [];
    throw new Error(
      `${method.toUpperCase()} ${concrete} matches ${best.template}, which declares no ${method.toUpperCase()} operation ` +
        `(it declares ${declared.map((m) => m.toUpperCase()).join(', ') || 'none'})`,
    );
  }
  return {
    operationId: typeof operation.operationId === 'string' ? operation.operationId : '(no operationId)',
    method: lower,
    template: best.template,
    operation,
    pointer: pointerOf(['paths', best.template, lower]),
  };
}

const isEmptyBody = (body: unknown) =>
  body === undefined || body === '' || (body instanceof Uint8Array && body.byteLength === 0);

/**
 * Throws unless the document declares `status` for the operation serving `method` `path` and
 * `body` matches that response: its application/json schema, or no body at all for responses
 * without content (204). `path` is concrete (ids filled in) and may carry a query string.
 */
export function assertConforms(method: string, path: string, status: number, body: unknown): void {
  const doc = openApiDocument;
  const match = findOperation(method, path, doc);
  const what = `${method.toUpperCase()} ${pathOnly(path)} → ${status} (${match.operationId}, ${match.template})`;

  const responses = match.operation.responses;
  if (!isObject(responses)) throw new Error(`${what}: the operation declares no responses`);
  const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => k in responses);
  if (key === undefined) {
    throw new Error(`${what}: the OpenAPI document does not declare status ${status} for this operation; it declares ${Object.keys(responses).join(', ')}`);
  }
  const response = deref(doc, responses[key], `${match.pointer}/responses/${escapeToken(key)}`);
  const content = isObject(response.node) ? response.node.content : undefined;

  if (!isObject(content) || Object.keys(content).length === 0) {
    if (!isEmptyBody(body)) throw new Error(`${what}: the document declares no body for this response, but got ${preview(body)}`);
    return;
  }
  const mediaType = Object.keys(content).find((m) => /^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(m));
  if (mediaType === undefined) {
    throw new Error(`${what}: the response has no JSON content (declared: ${Object.keys(content).join(', ')})`);
  }
  if (body === undefined) throw new Error(`${what}: expected a JSON body (${mediaType}), got none`);
  const media = content[mediaType];
  if (!isObject(media) || media.schema === undefined) return; // any JSON is allowed
  const schemaPointer = `${response.pointer}/content/${escapeToken(mediaType)}/schema`;
  const validate = validatorAt(doc, schemaPointer);
  if (validate(body)) return;

  const schema = media.schema;
  const schemaName = isObject(schema) && typeof schema.$ref === 'string' ? schema.$ref : `#${schemaPointer}`;
  const violations = [...new Set((validate.errors ?? []).map((e) => describeError(e, body)))];
  throw new Error(
    `${what}: body does not conform to ${schemaName}:\n${violations.map((v) => `  - ${v}`).join('\n')}\nbody: ${preview(body)}`,
  );
}

// ---- the document itself ------------------------------------------------------------------------

/** Every $ref of `doc` that does not resolve, as "pointer: message". */
export function unresolvedRefs(doc: OpenApiDocument = openApiDocument): string[] {
  return collectRefs(doc).flatMap(({ at, ref }) => {
    try {
      resolveRef(ref, doc);
      return [];
    } catch (err) {
      return [`${at || '(root)'}: ${(err as Error).message}`];
    }
  });
}

/**
 * Throws, listing every problem, unless `doc` is a structurally sound OpenAPI 3.1 document:
 * version and info present; every $ref resolves; every operation has a unique operationId and
 * responses, each with a description; path template parameters are declared (and only those);
 * parameters are complete; security requirements name declared schemes; every schema compiles
 * as JSON Schema 2020-12 (strict).
 */
export function validateDocument(doc: OpenApiDocument = openApiDocument): void {
  const problems: string[] = [];
  const problem = (at: string, message: string) => problems.push(`${at || '(root)'}: ${message}`);

  if (typeof doc.openapi !== 'string' || !/^3\.1\.\d+$/.test(doc.openapi)) problem('/openapi', `must be "3.1.x", is ${preview(doc.openapi)}`);
  if (!isObject(doc.info) || typeof doc.info.title !== 'string' || typeof doc.info.version !== 'string') {
    problem('/info', 'must have string title and version');
  }
  problems.push(...unresolvedRefs(doc));
  // Later checks dereference; with broken refs they would only repeat the same problem.
  if (problems.length > 0) throw new Error(`invalid OpenAPI document:\n${problems.map((p) => `  - ${p}`).join('\n')}`);

  const schemes = isObject(doc.components?.securitySchemes) ? doc.components.securitySchemes : {};
  for (const [name, raw] of Object.entries(schemes)) {
    const scheme = deref(doc, raw, pointerOf(['components', 'securitySchemes', name])).node;
    const at = pointerOf(['components', 'securitySchemes', name]);
    if (!isObject(scheme) || !['apiKey', 'http', 'mutualTLS', 'oauth2', 'openIdConnect'].includes(String(scheme.type))) {
      problem(at, 'type must be apiKey, http, mutualTLS, oauth2 or openIdConnect');
    } else if (scheme.type === 'http' && typeof scheme.scheme !== 'string') problem(at, 'an http scheme needs `scheme`');
  }
  const checkSecurity = (security: unknown, at: string) => {
    if (security === undefined) return;
    if (!Array.isArray(security)) return problem(at, 'security must be an array');
    security.forEach((requirement, i) => {
      if (!isObject(requirement)) return problem(`${at}/${i}`, 'a security requirement must be an object');
      for (const name of Object.keys(requirement)) {
        if (!(name in schemes)) problem(`${at}/${i}`, `security scheme "${name}" is not declared in components.securitySchemes`);
      }
    });
  };
  checkSecurity(doc.security, '/security');

  const schemaPointers: string[] = [];
  for (const name of Object.keys(isObject(doc.components?.schemas) ? doc.components.schemas : {})) {
    schemaPointers.push(pointerOf(['components', 'schemas', name]));
  }
  const checkParameters = (list: unknown, at: string): JsonObject[] => {
    if (list === undefined) return [];
    if (!Array.isArray(list)) {
      problem(at, 'parameters must be an array');
      return [];
    }
    return list.flatMap((raw, i) => {
      const { node: param, pointer } = deref(doc, raw, `${at}/${i}`);
      if (!isObject(param)) {
        problem(`${at}/${i}`, 'a parameter must be an object');
        return [];
      }
      if (typeof param.name !== 'string' || param.name === '') problem(pointer, 'parameter needs a name');
      if (!['query', 'header', 'path', 'cookie'].includes(String(param.in))) problem(pointer, 'parameter `in` must be query, header, path or cookie');
      if (param.in === 'path' && param.required !== true) problem(pointer, 'a path parameter must be required: true');
      if ((param.schema === undefined) === (param.content === undefined)) problem(pointer, 'a parameter needs exactly one of schema and content');
      if (param.schema !== undefined) schemaPointers.push(`${pointer}/schema`);
      return [param];
    });
  };
  const checkContent = (content: unknown, at: string) => {
    if (content === undefined) return;
    if (!isObject(content) || Object.keys(content).length === 0) return problem(at, 'content must be a non-empty object of media types');
    for (const [mediaType, media] of Object.entries(content)) {
      const mediaAt = `${at}/${escapeToken(mediaType)}`;
      if (!isObject(media)) problem(mediaAt, 'a media type must be an object');
      else if (media.schema !== undefined) schemaPointers.push(`${mediaAt}/schema`);
    }
  };

  const operationIds = new Map<string, string>();
  if (!isObject(doc.paths)) problem('/paths', 'must be an object');
  for (const [template, rawItem] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    const itemAt = pointerOf(['paths', template]);
    if (!template.startsWith('/')) problem(itemAt, 'a path must start with "/"');
    const item = deref(doc, rawItem, itemAt).node;
    if (!isObject(item)) {
      problem(itemAt, 'a path item must be an object');
      continue;
    }
    const templateParams = (template.match(/\{[^}/]+\}/g) ?? []).map((p) => p.slice(1, -1));
    const itemParams = checkParameters(item.parameters, `${itemAt}/parameters`);
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (operation === undefined) continue;
      const opAt = `${itemAt}/${method}`;
      if (!isObject(operation)) {
        problem(opAt, 'an operation must be an object');
        continue;
      }
      if (typeof operation.operationId !== 'string' || operation.operationId === '') problem(opAt, 'missing operationId');
      else if (operationIds.has(operation.operationId)) {
        problem(opAt, `operationId "${operation.operationId}" is also used by ${operationIds.get(operation.operationId)}`);
      } else operationIds.set(operation.operationId, opAt);

      const opParams = checkParameters(operation.parameters, `${opAt}/parameters`);
      const pathParams = new Set([...itemParams, ...opParams].filter((p) => p.in === 'path').map((p) => String(p.name)));
      for (const name of templateParams) if (!pathParams.has(name)) problem(opAt, `path parameter {${name}} is not declared`);
      for (const name of pathParams) if (!templateParams.includes(name)) problem(opAt, `path parameter "${name}" is not in the path ${template}`);

      checkSecurity(operation.security, `${opAt}/security`);
      if (operation.requestBody !== undefined) {
        const { node: body, pointer } = deref(doc, operation.requestBody, `${opAt}/requestBody`);
        if (!isObject(body) || !isObject(body.content)) problem(pointer, 'a request body needs content');
        else checkContent(body.content, `${pointer}/content`);
      }

      const responses = operation.responses;
      if (!isObject(responses) || Object.keys(responses).length === 0) {
        problem(opAt, 'missing responses');
        continue;
      }
      for (const [status, raw] of Object.entries(responses)) {
        const respAt = `${opAt}/responses/${escapeToken(status)}`;
        if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(status)) problem(respAt, `"${status}" is not a status code, range (4XX) or default`);
        const { node: response, pointer } = deref(doc, raw, respAt);
        if (!isObject(response) || typeof response.description !== 'string') {
          problem(pointer, 'a response needs a description');
          continue;
        }
        checkContent(response.content, `${pointer}/content`);
      }
    }
  }

  for (const pointer of new Set(schemaPointers)) {
    try {
      validatorAt(doc, pointer);
    } catch (err) {
      problem(pointer, `schema does not compile: ${(err as Error).message}`);
    }
  }

  if (problems.length > 0) throw new Error(`invalid OpenAPI document:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
}
