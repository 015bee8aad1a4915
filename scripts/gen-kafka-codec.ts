// Generates src/protocols/kafka/codec/generated/*.ts from Apache Kafka's JSON message schemas.
// Usage: npm run gen:kafka, or node dist/scripts/gen-kafka-codec.js [--out outDir] [schemaDir]
// (defaults src/protocols/kafka/codec/generated and specs/kafka/message, relative to the repository root).
// Output is committed (test/codegen checks it is current); rerun after changing the API list below, and copy
// the new API's two schemas into specs/kafka/message.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs as dist/scripts/gen-kafka-codec.js). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The APIs we implement (request and response schemas are generated for each). */
export const APIS = [
  'Produce', 'Fetch', 'ListOffsets', 'Metadata', 'OffsetCommit', 'OffsetFetch', 'FindCoordinator', 'JoinGroup',
  'Heartbeat', 'LeaveGroup', 'SyncGroup', 'DescribeGroups', 'ListGroups', 'SaslHandshake', 'ApiVersions',
  'CreateTopics', 'DeleteTopics', 'InitProducerId', 'DescribeConfigs', 'SaslAuthenticate', 'DeleteGroups', 'CreatePartitions',
];

interface Field {
  name: string;
  type: string;
  versions?: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  default?: string | number | boolean;
  fields?: Field[];
}

interface Spec {
  apiKey: number;
  type: 'request' | 'response';
  name: string;
  validVersions: string;
  flexibleVersions: string;
  fields: Field[];
  commonStructs?: Array<{ name: string; versions: string; fields: Field[] }>;
}

type Range = [number, number] | null;

function parseRange(s: string | undefined): Range {
  if (s === undefined || s === 'none' || s === '') return null;
  if (s.endsWith('+')) return [Number(s.slice(0, -1)), Infinity];
  const [a, b] = s.split('-');
  return b === undefined ? [Number(a), Number(a)] : [Number(a), Number(b)];
}

function cond(r: Range): string {
  if (!r) return 'false';
  if (r[1] === Infinity) return r[0] === 0 ? 'true' : `v >= ${r[0]}`;
  if (r[0] === r[1]) return `v === ${r[0]}`;
  return r[0] === 0 ? `v <= ${r[1]}` : `(v >= ${r[0]} && v <= ${r[1]})`;
}

const camel = (n: string) => n[0]!.toLowerCase() + n.slice(1);
const PRIMS = new Set(['bool', 'int8', 'int16', 'uint16', 'int32', 'int64', 'float64', 'string', 'bytes', 'records', 'uuid']);

function stripComments(text: string): string {
  return text.replace(/^\s*\/\/.*$/gm, '').replace(/([,{[\]"\d])\s*\/\/.*$/gm, '$1');
}

class Gen {
  out: string[] = [];
  structs = new Map<string, Field[]>();
  constructor(readonly spec: Spec) {
    for (const c of spec.commonStructs ?? []) this.structs.set(c.name, c.fields);
    this.collect(spec.fields);
  }

  private collect(fields: Field[]): void {
    for (const f of fields) {
      if (f.fields) {
        this.structs.set(this.elemType(f.type), f.fields);
        this.collect(f.fields);
      }
    }
    for (const c of this.spec.commonStructs ?? []) for (const f of c.fields) if (f.fields) this.collect([f]);
  }

  elemType(t: string): string {
    return t.startsWith('[]') ? t.slice(2) : t;
  }

  structName(s: string): string {
    return `${this.spec.name}${s === this.spec.name ? '' : '_' + s}`;
  }

  tsType(f: Field): string {
    const nullable = parseRange(f.nullableVersions) !== null;
    const base = (t: string): string => {
      switch (t) {
        case 'bool':
          return 'boolean';
        case 'int8':
        case 'int16':
        case 'uint16':
        case 'int32':
        case 'float64':
          return 'number';
        case 'int64':
          return 'bigint';
        case 'string':
          return 'string';
        case 'bytes':
        case 'records':
        case 'uuid':
          return 'Buffer';
        default:
          return this.structName(t);
      }
    };
    const t = f.type.startsWith('[]') ? `${base(f.type.slice(2))}[]` : base(f.type);
    return nullable ? `${t} | null` : t;
  }

  defaultExpr(f: Field): string {
    const nullable = parseRange(f.nullableVersions) !== null;
    const d = f.default;
    if (f.type.startsWith('[]')) return d === 'null' && nullable ? 'null' : '[]';
    switch (f.type) {
      case 'bool':
        return String(d === true || d === 'true');
      case 'int8':
      case 'int16':
      case 'uint16':
      case 'int32':
      case 'float64':
        return d === undefined ? '0' : String(Number(d));
      case 'int64':
        return d === undefined ? '0n' : `${BigInt(d as string | number)}n`;
      case 'string':
        return d === 'null' && nullable ? 'null' : JSON.stringify(d === undefined ? '' : String(d));
      case 'bytes':
      case 'records':
        return nullable && (d === 'null' || f.type === 'records') ? 'null' : 'Buffer.alloc(0)';
      case 'uuid':
        return 'Buffer.alloc(16)';
      default:
        return nullable && d === 'null' ? 'null' : `default${this.structName(f.type)}()`;
    }
  }

  isDefaultExpr(f: Field, x: string): string {
    if (f.type.startsWith('[]')) return `(${x} === null || ${x}.length === 0)`;
    switch (f.type) {
      case 'bytes':
      case 'records':
        return `(${x} === null || ${x}.length === 0)`;
      case 'uuid':
        return `${x}.equals(Buffer.alloc(16))`;
      default:
        return PRIMS.has(f.type) ? `${x} === ${this.defaultExpr(f)}` : 'false';
    }
  }

  readExpr(t: string, nullable: boolean): string {
    switch (t) {
      case 'bool':
        return 'r.bool()';
      case 'int8':
      case 'int16':
      case 'uint16':
      case 'int32':
      case 'int64':
      case 'float64':
      case 'uuid':
        return `r.${t}()`;
      case 'string':
        return nullable ? 'r.nullableString(f)' : 'r.string(f)';
      case 'bytes':
      case 'records':
        return nullable || t === 'records' ? 'r.nullableBytes(f)' : 'r.bytes(f)';
      default:
        return `decode${this.structName(t)}(r, v)`;
    }
  }

  writeStmt(t: string, x: string, nullable: boolean): string {
    switch (t) {
      case 'bool':
      case 'int8':
      case 'int16':
      case 'uint16':
      case 'int32':
      case 'int64':
      case 'float64':
      case 'uuid':
        return `w.${t}(${x});`;
      case 'string':
        return nullable ? `w.nullableString(${x}, f);` : `w.string(${x}, f);`;
      case 'bytes':
      case 'records':
        return nullable || t === 'records' ? `w.nullableBytes(${x}, f);` : `w.bytes(${x}, f);`;
      default:
        return `encode${this.structName(t)}(w, v, ${x});`;
    }
  }

  decodeField(f: Field, target: string): string[] {
    const nullable = parseRange(f.nullableVersions) !== null;
    if (f.type.startsWith('[]')) {
      const et = f.type.slice(2);
      return [
        `{`,
        `  const n = r.arrayLength(f);`,
        nullable ? `  if (n < 0) ${target} = null;` : `  if (n < 0) throw new KafkaDecodeError('null array ${f.name}');`,
        `  else {`,
        `    const a = new Array(n);`,
        `    for (let i = 0; i < n; i++) a[i] = ${this.readExpr(et, false)};`,
        `    ${target} = a;`,
        `  }`,
        `}`,
      ];
    }
    return [`${target} = ${this.readExpr(f.type, nullable)};`];
  }

  encodeField(f: Field, x: string): string[] {
    const nullable = parseRange(f.nullableVersions) !== null;
    if (f.type.startsWith('[]')) {
      const et = f.type.slice(2);
      return [
        `if (${x} === null) w.arrayLength(null, f);`,
        `else {`,
        `  w.arrayLength(${x}.length, f);`,
        `  for (const e of ${x}) ${this.writeStmt(et, 'e', false)}`,
        `}`,
      ];
    }
    return [this.writeStmt(f.type, x, nullable && true)];
  }

  emitStruct(name: string, fields: Field[]): void {
    const ts = this.structName(name);
    const o = this.out;
    o.push(`export interface ${ts} {`);
    for (const f of fields) o.push(`  ${camel(f.name)}: ${this.tsType(f)};`);
    o.push(`}`, ``);
    o.push(`export function default${ts}(): ${ts} {`, `  return {`);
    for (const f of fields) o.push(`    ${camel(f.name)}: ${this.defaultExpr(f)},`);
    o.push(`  };`, `}`, ``);

    const flex = cond(parseRange(this.spec.flexibleVersions));
    // decode
    o.push(`export function decode${ts}(r: KafkaReader, v: number): ${ts} {`);
    o.push(`  const f = ${flex};`, `  const o = default${ts}();`);
    const tagged = fields.filter((f) => f.tag !== undefined);
    for (const f of fields) {
      const present = cond(parseRange(f.versions));
      const tagRange = f.tag !== undefined ? cond(parseRange(f.taggedVersions)) : 'false';
      const guard = f.tag !== undefined ? `${present} && !(f && ${tagRange})` : present;
      if (guard === 'false') continue;
      const body = this.decodeField(f, `o.${camel(f.name)}`);
      if (guard === 'true') o.push(...body.map((l) => '  ' + l));
      else o.push(`  if (${guard}) {`, ...body.map((l) => '    ' + l), `  }`);
    }
    o.push(`  if (f) {`, `    const count = r.uvarint();`, `    for (let i = 0; i < count; i++) {`, `      const tag = r.uvarint();`, `      const size = r.uvarint();`, `      const end = r.pos + size;`, `      if (end > r.end) throw new KafkaDecodeError('tagged field past the end');`);
    if (tagged.length > 0) {
      o.push(`      switch (tag) {`);
      for (const f of tagged) {
        o.push(`        case ${f.tag}:`, `          if (${cond(parseRange(f.taggedVersions))}) {`, ...this.decodeField(f, `o.${camel(f.name)}`).map((l) => '            ' + l), `          }`, `          break;`);
      }
      o.push(`      }`);
    } else o.push(`      void tag;`);
    o.push(`      r.pos = end;`, `    }`, `  }`, `  return o;`, `}`, ``);

    // encode
    o.push(`export function encode${ts}(w: KafkaWriter, v: number, o: ${ts}): void {`, `  const f = ${flex};`);
    for (const f of fields) {
      const present = cond(parseRange(f.versions));
      const tagRange = f.tag !== undefined ? cond(parseRange(f.taggedVersions)) : 'false';
      const guard = f.tag !== undefined ? `${present} && !(f && ${tagRange})` : present;
      if (guard === 'false') continue;
      const body = this.encodeField(f, `o.${camel(f.name)}`);
      if (guard === 'true') o.push(...body.map((l) => '  ' + l));
      else o.push(`  if (${guard}) {`, ...body.map((l) => '    ' + l), `  }`);
    }
    o.push(`  if (f) {`);
    if (tagged.length > 0) {
      o.push(`    const tagged: Array<[number, Buffer]> = [];`);
      for (const f of tagged) {
        const x = `o.${camel(f.name)}`;
        o.push(`    if (${cond(parseRange(f.taggedVersions))} && !(${this.isDefaultExpr(f, x)})) {`, `      const w = new KafkaWriter();`, ...this.encodeField(f, x).map((l) => '      ' + l), `      tagged.push([${f.tag}, w.toBuffer()]);`, `    }`);
      }
      o.push(`    w.uvarint(tagged.length);`, `    for (const [t, b] of tagged) {`, `      w.uvarint(t);`, `      w.uvarint(b.length);`, `      w.raw(b);`, `    }`);
    } else o.push(`    w.uvarint(0);`);
    o.push(`  }`, `}`, ``);
  }

  generate(): string {
    const s = this.spec;
    this.out.push(`// Generated by scripts/gen-kafka-codec.ts from Apache Kafka's ${s.name}.json — do not edit.`);
    this.out.push(`/* eslint-disable */`);
    this.out.push(`import { KafkaDecodeError, type KafkaReader } from '../reader.js';`, `import { KafkaWriter } from '../writer.js';`, ``);
    this.out.push(`export const ${s.name}ApiKey = ${s.apiKey};`, `export const ${s.name}ValidVersions = ${JSON.stringify(parseRange(s.validVersions)?.map((x) => (x === Infinity ? 999 : x)))} as const;`, `export const ${s.name}FlexibleFrom = ${parseRange(s.flexibleVersions)?.[0] ?? 999};`, ``);
    for (const [name, fields] of this.structs) if (name !== s.name) this.emitStruct(name, fields);
    this.emitStruct(s.name, s.fields);
    return this.out.join('\n');
  }
}

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const outDir = outAt >= 0 ? resolve(args.splice(outAt, 2)[1]!) : resolve(ROOT, 'src/protocols/kafka/codec/generated');
const schemaDir = args[0] !== undefined ? resolve(args[0]) : resolve(ROOT, 'specs/kafka/message');
mkdirSync(outDir, { recursive: true });
const index: string[] = ['// Generated by scripts/gen-kafka-codec.ts — do not edit.'];
for (const api of APIS) {
  for (const kind of ['Request', 'Response']) {
    const spec = JSON.parse(stripComments(readFileSync(join(schemaDir, `${api}${kind}.json`), 'utf8'))) as Spec;
    const file = kebab(spec.name);
    writeFileSync(join(outDir, `${file}.ts`), new Gen(spec).generate());
    index.push(`export * from './${file}.js';`);
  }
}
writeFileSync(join(outDir, 'index.ts'), index.join('\n') + '\n');
console.log(`generated ${APIS.length * 2} message codecs into ${outDir}`);
