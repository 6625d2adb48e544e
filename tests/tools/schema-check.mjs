#!/usr/bin/env node
// schema-check.mjs - check schemas/ with an independent validator (Ajv, draft 2020-12).
//
//   node tests/tools/schema-check.mjs compile
//       Compile every schemas/*.schema.json in Ajv strict mode, all in one Ajv
//       instance (so cross-file $refs resolve), and lint each against the keyword
//       subset the C validator (tools/lib/schema.c) implements (keywords, $ref forms,
//       POSIX-ERE patterns checked with grep -E, closed objects, `required` naming
//       declared properties), and check each schema's own `examples` against it.
//       Exit 1 naming every schema that fails.
//   node tests/tools/schema-check.mjs validate NAME FILE...
//       Validate each JSON FILE against schema NAME (e.g. epic-request). Prints
//       "FILE: ok" or "FILE: <instancePath> <message>" per error; exit 1 if any
//       file is invalid.
//   node tests/tools/schema-check.mjs validate-defaulted NAME FILE...
//       The same, each FILE first given its defaults (as `defaults` prints them).
//   node tests/tools/schema-check.mjs defaults NAME [FILE]
//       Print FILE (default {}) with every absent property that has a `default`
//       filled in, recursively, as the C loader does (ec_schema_apply_defaults).
//
// Exit codes: 0 ok, 1 invalid / failed, 2 usage or setup error.
// This is test tooling only: the tools themselves never run node.

import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const schemaDir = process.env.EPIC_SCHEMA_DIR || join(root, 'schemas');
const ID_BASE = 'https://schemas.epic-creator.example/';

const require = createRequire(join(here, '..', 'package.json'));
let Ajv2020, addFormats;
try {
  Ajv2020 = require('ajv/dist/2020').default;
  addFormats = require('ajv-formats').default;
} catch (err) {
  console.error(`schema-check: cannot load ajv (run: npm ci --prefix tests): ${err.message}`);
  process.exit(2);
}

// The keywords the in-house C validator knows. Anything else is an error here, so a
// schema can never rely on a keyword that the tools would silently ignore.
const ALLOWED = new Set([
  '$schema', '$id', '$defs', '$ref', 'title', 'description', 'default', 'examples',
  'type', 'enum', 'const', 'properties', 'required', 'additionalProperties',
  'propertyNames', 'items', 'minItems', 'maxItems', 'uniqueItems', 'minLength',
  'maxLength', 'pattern', 'minimum', 'maximum', 'exclusiveMinimum', 'minProperties',
  'oneOf', 'anyOf', 'allOf', 'not', 'format',
]);
const SCHEMA_MAP = new Set(['properties', '$defs']);            // name -> schema
const SCHEMA_ONE = new Set(['additionalProperties', 'propertyNames', 'items', 'not']);
const SCHEMA_LIST = new Set(['oneOf', 'anyOf', 'allOf']);
const TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);
const REF_RE = /^(#\/\$defs\/[A-Za-z0-9_-]+|[a-z0-9-]+\.schema\.json(#\/\$defs\/[A-Za-z0-9_-]+)?)$/;

// Constructs of JavaScript/PCRE regexes that POSIX ERE (regcomp REG_EXTENDED) lacks.
function patternProblem(p) {
  if (/\\[dDwWsSbBpPkuxc0-9]/.test(p)) return 'uses a backslash class or escape (\\d, \\w, \\s, \\b, \\u, ...): write [0-9], [A-Za-z0-9_], ...';
  if (p.includes('(?')) return 'uses a group extension (?...): lookarounds and non-capturing groups are not ERE';
  if (/[*+?}]\?/.test(p)) return 'uses a lazy quantifier (*?, +?, ??, {n}?)';
  if (/[*+?}][+]/.test(p)) return 'uses a possessive quantifier';
  if (!p.startsWith('^') || !p.endsWith('$')) return 'is not anchored with ^...$ (JSON Schema patterns are unanchored: say what you mean)';
  try { new RegExp(p, 'u'); } catch (err) { return `does not compile: ${err.message}`; }
  // The C validator uses regcomp(REG_EXTENDED); grep -E is the same engine (glibc).
  const g = spawnSync('grep', ['-E', '-q', '-e', p], { input: '', encoding: 'utf8' });
  if (g.error) return `cannot be checked with grep -E: ${g.error.message}`;
  if (g.status === 2 || g.stderr) return `is not a valid POSIX ERE (grep -E: ${g.stderr.trim()})`;
  return null;
}

// Walk a schema and report every use of something outside the subset.
// parentProps: the properties of the object schema whose oneOf/anyOf/allOf/not this
// node is a branch of, so a branch's `required` is checked against them (Ajv's
// strictRequired is off because it rejects this standard idiom).
function lint(node, path, problems, parentProps = null) {
  if (typeof node === 'boolean') {
    problems.push(`${path}: boolean schemas are not in the C validator's subset (use {} or {"not": {}})`);
    return;
  }
  if (node === null || typeof node !== 'object' || Array.isArray(node)) {
    problems.push(`${path}: a schema must be an object`);
    return;
  }
  if (Array.isArray(node.required)) {
    const props = node.properties ?? parentProps;
    for (const r of node.required) {
      if (!props || !(r in props)) problems.push(`${path}/required: "${r}" is not among the properties`);
    }
  }
  const branchProps = node.properties ?? parentProps;
  for (const [k, v] of Object.entries(node)) {
    const p = `${path}/${k}`;
    if (!ALLOWED.has(k)) { problems.push(`${p}: keyword not in the C validator's subset`); continue; }
    if (SCHEMA_MAP.has(k)) {
      for (const [name, sub] of Object.entries(v)) lint(sub, `${p}/${name}`, problems);
    } else if (SCHEMA_ONE.has(k)) {
      if (k === 'additionalProperties' && v !== false && (typeof v !== 'object' || v === null)) {
        problems.push(`${p}: must be false or a schema`);
      } else if (k === 'additionalProperties' && v === false) {
        // fine
      } else {
        lint(v, p, problems, k === 'not' ? branchProps : null);
      }
    } else if (SCHEMA_LIST.has(k)) {
      if (!Array.isArray(v) || v.length === 0) problems.push(`${p}: must be a non-empty array`);
      else v.forEach((sub, i) => lint(sub, `${p}/${i}`, problems, branchProps));
    } else if (k === '$ref') {
      if (!REF_RE.test(v)) problems.push(`${p}: "${v}" is not #/$defs/x, other.schema.json or other.schema.json#/$defs/x`);
    } else if (k === 'pattern') {
      const why = patternProblem(v);
      if (why) problems.push(`${p}: /${v}/ ${why}`);
    } else if (k === 'type') {
      const ts = Array.isArray(v) ? v : [v];
      for (const t of ts) if (!TYPES.has(t)) problems.push(`${p}: unknown type ${JSON.stringify(t)}`);
    }
  }
}

function lintTop(name, schema) {
  const problems = [];
  if (schema.$schema !== 'https://json-schema.org/draft/2020-12/schema') problems.push('/$schema: must be the draft 2020-12 URI');
  if (schema.$id !== `${ID_BASE}${name}.schema.json`) problems.push(`/$id: must be ${ID_BASE}${name}.schema.json`);
  if (typeof schema.title !== 'string' || !schema.title) problems.push('/title: missing');
  if (typeof schema.description !== 'string' || !schema.description) problems.push('/description: missing');
  lint(schema, '', problems);
  // Every object schema closes its properties unless it says otherwise.
  (function closed(node, path) {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) { node.forEach((n, i) => closed(n, `${path}/${i}`)); return; }
    if (node.properties && !('additionalProperties' in node)) problems.push(`${path || '/'}: has properties but no additionalProperties`);
    for (const [k, v] of Object.entries(node)) {
      if (k === 'default' || k === 'examples' || k === 'enum' || k === 'const') continue;
      if (SCHEMA_MAP.has(k)) for (const [n, sub] of Object.entries(v)) closed(sub, `${path}/${k}/${n}`);
      else if (typeof v === 'object') closed(v, `${path}/${k}`);
    }
  })(schema, '');
  return problems;
}

function loadSchemas() {
  let files;
  try {
    files = readdirSync(schemaDir).filter((f) => f.endsWith('.schema.json')).sort();
  } catch (err) {
    console.error(`schema-check: ${schemaDir}: ${err.message}`);
    process.exit(2);
  }
  const out = [];
  for (const f of files) {
    const path = join(schemaDir, f);
    const name = f.slice(0, -'.schema.json'.length);
    try {
      out.push({ name, path, schema: JSON.parse(readFileSync(path, 'utf8')) });
    } catch (err) {
      out.push({ name, path, error: `not JSON: ${err.message}` });
    }
  }
  return out;
}

function newAjv() {
  // Strict mode, except strictRequired: it rejects `required` inside oneOf/anyOf
  // branches (the standard "exactly one of" idiom); lint() checks required instead.
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true });
  addFormats(ajv);
  return ajv;
}

// Add every schema to one instance; returns {ajv, failures}.
function buildAll() {
  const ajv = newAjv();
  const failures = [];
  const schemas = loadSchemas();
  for (const s of schemas) {
    if (s.error) { failures.push(`${s.path}: ${s.error}`); continue; }
    try {
      ajv.addSchema(s.schema);
    } catch (err) {
      failures.push(`${s.path}: ${err.message}`);
      s.error = err.message;
    }
  }
  return { ajv, schemas, failures };
}

function cmdCompile() {
  const { ajv, schemas, failures } = buildAll();
  if (schemas.length === 0) failures.push(`${schemaDir}: no *.schema.json`);
  for (const s of schemas) {
    if (s.schema) for (const p of lintTop(s.name, s.schema)) failures.push(`${s.path}: ${p}`);
    if (s.error) continue;
    try {
      const v = ajv.getSchema(s.schema.$id ?? `${ID_BASE}${s.name}.schema.json`);
      if (!v) throw new Error('not registered (missing $id?)');
      // The schema's own `examples` must be valid instances of it.
      (s.schema.examples ?? []).forEach((ex, i) => {
        if (!v(ex)) for (const e of v.errors) failures.push(`${s.path}: /examples/${i}: ${describe(e)}`);
      });
    } catch (err) {
      failures.push(`${s.path}: ${err.message}`);
    }
  }
  for (const f of failures) console.error(f);
  if (failures.length) {
    const bad = [...new Set(failures.map((f) => basename(f.split(':')[0])))];
    console.error(`schema-check: FAILED: ${bad.join(' ')}`);
    return 1;
  }
  for (const s of schemas) console.log(`${basename(s.path)}: ok`);
  return 0;
}

function getValidator(name) {
  const { ajv, failures } = buildAll();
  if (failures.length) {
    for (const f of failures) console.error(f);
    console.error('schema-check: the schemas do not compile; run: schema-check.mjs compile');
    process.exit(2);
  }
  let v;
  try {
    v = ajv.getSchema(`${ID_BASE}${name}.schema.json`);
  } catch (err) {
    console.error(`schema-check: ${name}: ${err.message}`);
    process.exit(2);
  }
  if (!v) {
    console.error(`schema-check: no schema named ${name} in ${schemaDir}`);
    process.exit(2);
  }
  return v;
}

function describe(e) {
  const where = e.instancePath || '/';
  let msg = e.message;
  if (e.keyword === 'additionalProperties') msg += `: ${JSON.stringify(e.params.additionalProperty)}`;
  else if (e.keyword === 'enum') msg += `: ${e.params.allowedValues.map((x) => JSON.stringify(x)).join(', ')}`;
  else if (e.keyword === 'propertyName') msg += `: ${JSON.stringify(e.params.propertyName)}`;
  return `${where} ${msg}`;
}

// Every schema by name, NAME's as __current: what applyDefaults walks.
function defaultsTable(name) {
  const all = {};
  for (const s of loadSchemas()) if (s.schema) all[s.name] = s.schema;
  all.__current = all[name];
  return all;
}

function cmdValidate(name, files, withDefaults = false) {
  const validate = getValidator(name);
  const all = withDefaults ? defaultsTable(name) : null;
  let bad = 0;
  for (const f of files) {
    let doc;
    try {
      doc = JSON.parse(readFileSync(f, 'utf8'));
    } catch (err) {
      console.log(`${f}: / not JSON: ${err.message}`);
      bad++;
      continue;
    }
    if (withDefaults) applyDefaults(all, all[name], doc);
    if (validate(doc)) {
      console.log(`${f}: ok`);
    } else {
      bad++;
      for (const e of validate.errors) console.log(`${f}: ${describe(e)}`);
    }
  }
  return bad ? 1 : 0;
}

// Mirror of ec_schema_apply_defaults: fill absent properties that have a default,
// then descend into present objects (following local $refs).
function applyDefaults(schemas, schema, doc, depth = 0) {
  if (depth > 64 || !schema || typeof schema !== 'object') return;
  if (schema.$ref) {
    const [file, frag] = schema.$ref.split('#');
    const base = file ? schemas[file.replace('.schema.json', '')] : schemas.__current;
    const target = frag ? frag.split('/').slice(1).reduce((o, k) => o?.[k], base) : base;
    applyDefaults(schemas, target, doc, depth + 1);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return;
  for (const [k, sub] of Object.entries(schema.properties ?? {})) {
    if (!(k in doc) && sub && typeof sub === 'object' && 'default' in sub) doc[k] = structuredClone(sub.default);
    if (k in doc) applyDefaults(schemas, sub, doc[k], depth + 1);
  }
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    for (const k of Object.keys(doc)) {
      if (!(k in (schema.properties ?? {}))) applyDefaults(schemas, schema.additionalProperties, doc[k], depth + 1);
    }
  }
}

function cmdDefaults(name, file) {
  const all = defaultsTable(name);
  if (!all[name]) {
    console.error(`schema-check: no schema named ${name} in ${schemaDir}`);
    return 2;
  }
  let doc = {};
  if (file) {
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      console.error(`${file}: not JSON: ${err.message}`);
      return 1;
    }
  }
  applyDefaults(all, all[name], doc);
  console.log(JSON.stringify(doc, null, 2));
  return 0;
}

function usage() {
  console.error('usage: schema-check.mjs compile\n       schema-check.mjs validate NAME FILE...\n       schema-check.mjs validate-defaulted NAME FILE...\n       schema-check.mjs defaults NAME [FILE]');
  return 2;
}

const [cmd, ...args] = process.argv.slice(2);
let rc;
if (cmd === 'compile' && args.length === 0) rc = cmdCompile();
else if (cmd === 'validate' && args.length >= 2) rc = cmdValidate(args[0], args.slice(1));
else if (cmd === 'validate-defaulted' && args.length >= 2) rc = cmdValidate(args[0], args.slice(1), true);
else if (cmd === 'defaults' && (args.length === 1 || args.length === 2)) rc = cmdDefaults(args[0], args[1]);
else rc = usage();
process.exitCode = rc;
