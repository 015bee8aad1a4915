// Fails when an import crosses the layering of design.md §7:
//   protocols → core → storage → lib;  http → core;  server → all;  cli → server and below.
// Protocols never import storage or each other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const src = join(root, 'src');

/** Which top-level src folders each folder may import from (itself always allowed). */
const allowed: Record<string, readonly string[]> = {
  lib: [],
  storage: ['lib'],
  core: ['storage', 'lib'],
  protocols: ['core', 'lib'],
  http: ['core', 'lib'],
  server: ['protocols', 'http', 'core', 'storage', 'lib'],
  cli: ['server', 'protocols', 'http', 'core', 'storage', 'lib'],
};

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) tsFiles(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

export function layerViolations(src: string, files: string[]): string[] {
  const problems: string[] = [];
  const importRe = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const file of files) {
    const rel = relative(src, file).split(sep);
    const layer = rel[0]!;
    const rules = allowed[layer];
    if (!rules) {
      problems.push(`${relative(src, file)}: folder src/${layer} has no layering rule`);
      continue;
    }
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] ?? m[2]!;
      if (!spec.startsWith('.')) continue;
      const target = relative(src, resolve(dirname(file), spec)).split(sep);
      if (target[0] === '..') {
        // Tests beside code may import from test helpers only through relative src paths; anything else leaves src.
        problems.push(`${relative(src, file)} imports ${spec}, outside src/`);
        continue;
      }
      const targetLayer = target[0]!;
      if (targetLayer === layer) {
        if (layer === 'protocols' && rel[1] !== target[1]) {
          problems.push(`${relative(src, file)} imports another protocol (${spec})`);
        }
        continue;
      }
      if (!rules.includes(targetLayer)) problems.push(`${relative(src, file)} (${layer}) imports ${spec} (${targetLayer})`);
    }
  }
  return problems;
}

test('imports follow the layering of design.md §7', () => {
  assert.deepEqual(layerViolations(src, tsFiles(src)), []);
});

test('the layering check catches crossings', () => {
  const fake = mkdtempSync(join(tmpdir(), 'layering-'));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(fake, path)), { recursive: true });
    writeFileSync(join(fake, path), text);
    return join(fake, path);
  };
  try {
    const files = [
      write('storage/a.ts', "import { Broker } from '../core/broker.js';\n"),
      write('protocols/kafka/b.ts', "import { x } from '../amqp/c.js';\n"),
      write('protocols/amqp/d.ts', "import { y } from '../../storage/log/types.js';\n"),
      write('core/e.ts', "import { z } from '../storage/log/types.js';\nimport { w } from './f.js';\n"),
    ];
    assert.equal(layerViolations(fake, files).length, 3);
  } finally {
    rmSync(fake, { recursive: true, force: true });
  }
});
