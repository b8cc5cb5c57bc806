#!/usr/bin/env node
// Fails when modules under src/ import each other in a cycle. Type-only imports count: the
// compiled code drops them, but a cycle of types is still two parts that cannot be read (or
// moved) one without the other. `npm test` runs it before the tests; `node scripts/check-cycles.mjs`
// alone prints each cycle with one path around it.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(process.argv[2] ?? 'src');

/**
 * Cycles left on purpose, each with the reason, as the sorted files of the cycle. A listed cycle
 * that no longer exists is reported, so the list does not outlive it.
 */
const KNOWN = new Map([
  // none: add `['a.ts b.ts', 'why']` only with a reason and an issue that removes it
]);

// Relative specifiers of static imports and re-exports (`import x from`, `import type {…} from`,
// `export * from`, `import './side-effect.js'`) and of dynamic `import('…')` with a literal.
const SPECIFIER = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

const withoutComments = (text) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"\\])\/\/.*$/gm, '$1');

const files = readdirSync(ROOT, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  .map((f) => join(ROOT, f));
const known = new Set(files);
const graph = new Map();
for (const file of files) {
  const deps = new Set();
  for (const m of withoutComments(readFileSync(file, 'utf8')).matchAll(SPECIFIER)) {
    const target = resolve(dirname(file), m[1] ?? m[2]).replace(/\.js$/, '.ts');
    if (known.has(target)) deps.add(target);
  }
  graph.set(file, [...deps].sort());
}

// Strongly connected components (Tarjan): each with more than one module is a set of cycles.
let counter = 0;
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const components = [];
function visit(v) {
  index.set(v, counter);
  low.set(v, counter++);
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v)) {
    if (!index.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) {
      low.set(v, Math.min(low.get(v), index.get(w)));
    }
  }
  if (low.get(v) === index.get(v)) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v).includes(v)) components.push(component.sort());
  }
}
for (const v of files.sort()) if (!index.has(v)) visit(v);

/** One way around the component, from its first module back to it (breadth-first, within it). */
function pathAround(component) {
  const inside = new Set(component);
  const [start] = component;
  const from = new Map();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of graph.get(v)) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let at = v; at !== start; at = from.get(at)) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!from.has(w)) {
        from.set(w, v);
        queue.push(w);
      }
    }
  }
  return component;
}

const name = (f) => relative(ROOT, f);
const found = new Set();
let failed = 0;
for (const component of components) {
  const key = component.map(name).join(' ');
  found.add(key);
  const path = pathAround(component).map(name).join(' -> ');
  if (KNOWN.has(key)) {
    console.log(`import cycle (known: ${KNOWN.get(key)}): ${path}`);
  } else {
    failed++;
    console.error(`import cycle among ${component.length} modules: ${path}${component.length > 2 ? ` (all of: ${key})` : ''}`);
  }
}
for (const key of KNOWN.keys()) if (!found.has(key)) console.log(`no longer a cycle, remove it from KNOWN in scripts/check-cycles.mjs: ${key}`);
const edges = [...graph.values()].reduce((n, deps) => n + deps.length, 0);
console.log(`import cycles: ${failed === 0 ? 'none' : failed} new among ${files.length} modules and ${edges} imports under ${relative(process.cwd(), ROOT) || '.'}/ (type imports included)`);
process.exit(failed === 0 ? 0 : 1);
