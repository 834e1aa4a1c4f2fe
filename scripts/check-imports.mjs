// The import graph of every package's src/ must stay one-way: no module cycles, and each package imports only
// the packages before it in the pipeline (see LAYERS). Runs in `npm test`; exits 1 naming every offending edge.
// Before it checks the repo it checks itself on two small graphs, so a broken checker cannot pass silently.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Which packages each package may import. The exporter must not import the processor: both are stages fed
 * through `@tallyhouse/model`'s `SeriesBatchConsumer`, and only the collector (the composition root) knows both.
 */
const LAYERS = {
  model: [],
  'processor-tenant': ['model'],
  'exporter-clickhouse': ['model'],
  collector: ['model', 'processor-tenant', 'exporter-clickhouse'],
};

/**
 * Inside the collector, its stages in the order a request travels, as the paths under src/ that make them up.
 * A stage may import an earlier one (the interface it implements or the decoders it replays with), never a
 * later one: the receiver hands requests on through an interface that the composition root (`collector.ts`)
 * wires to the write-ahead log.
 */
const COLLECTOR_STAGES = [
  { name: 'receiver', paths: ['otlp/', 'http/', 'grpc/', 'ingest/'] },
  { name: 'durable intake', paths: ['wal/'] },
];

const IMPORT = /(?:^|\n)\s*(?:import|export)\s(?:[^'"`;]*?\sfrom\s)?['"]([^'"]+)['"]/g;

/** `{ file → [imported file or '@tallyhouse/<package>'] }` for every .ts under `dir`. */
export function readGraph(dir) {
  const graph = new Map();
  for (const file of walk(dir)) {
    const targets = [];
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const specifier = match[1];
      if (specifier.startsWith('.')) targets.push(resolve(dirname(file), specifier));
      else if (specifier.startsWith('@tallyhouse/')) targets.push(specifier);
    }
    graph.set(file, targets);
  }
  return graph;
}

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) yield path;
  }
}

/** Every cycle's members (strongly connected components with more than one file, or a self-import). */
export function findCycles(graph) {
  let index = 0;
  const indexes = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const cycles = [];
  const visit = (node) => {
    indexes.set(node, index);
    low.set(node, index);
    index++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!indexes.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node), low.get(next)));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node), indexes.get(next)));
      }
    }
    if (low.get(node) !== indexes.get(node)) return;
    const members = [];
    let member;
    do {
      member = stack.pop();
      onStack.delete(member);
      members.push(member);
    } while (member !== node);
    if (members.length > 1 || (graph.get(node) ?? []).includes(node)) cycles.push(members.reverse());
  };
  for (const node of graph.keys()) if (!indexes.has(node)) visit(node);
  return cycles;
}

/** Edges that break the layering: a package importing one it may not, a collector stage importing a later one. */
export function findLayerViolations(graph, packageOf, stageOf) {
  const violations = [];
  for (const [file, targets] of graph) {
    const from = packageOf(file);
    for (const target of targets) {
      if (target.startsWith('@tallyhouse/')) {
        const to = target.slice('@tallyhouse/'.length);
        if (!(LAYERS[from] ?? []).includes(to)) violations.push(`${file} imports ${target}`);
        continue;
      }
      const fromStage = stageOf(file);
      const toStage = stageOf(target);
      if (fromStage >= 0 && toStage > fromStage) {
        violations.push(`${file} (${COLLECTOR_STAGES[fromStage].name}) imports the later stage ${target}`);
      }
    }
  }
  return violations;
}

function selfTest() {
  const cyclic = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['a']],
  ]);
  const acyclic = new Map([
    ['a', ['b']],
    ['b', []],
  ]);
  if (findCycles(cyclic).length !== 1 || findCycles(cyclic)[0].length !== 3 || findCycles(acyclic).length) {
    throw new Error('check-imports self-test: cycle detection is broken');
  }
  const layered = new Map([
    ['exporter-clickhouse/x.ts', ['@tallyhouse/processor-tenant', '@tallyhouse/model']],
  ]);
  const found = findLayerViolations(
    layered,
    (file) => file.split('/')[0],
    () => -1,
  );
  if (found.length !== 1) throw new Error('check-imports self-test: layer check is broken');
}

function main() {
  selfTest();
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const packagesDir = join(root, 'packages');
  const graph = new Map();
  for (const name of readdirSync(packagesDir)) {
    const src = join(packagesDir, name, 'src');
    if (!existsSync(src)) continue;
    if (!(name in LAYERS)) {
      console.error(`check-imports: package ${name} has no entry in LAYERS (scripts/check-imports.mjs)`);
      process.exit(1);
    }
    for (const [file, targets] of readGraph(src)) graph.set(file, targets);
    const manifest = JSON.parse(readFileSync(join(packagesDir, name, 'package.json'), 'utf8'));
    for (const dependency of Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies })) {
      const to = dependency.startsWith('@tallyhouse/') ? dependency.slice('@tallyhouse/'.length) : undefined;
      if (to !== undefined && !LAYERS[name].includes(to)) {
        console.error(`check-imports: packages/${name}/package.json depends on ${dependency}`);
        process.exit(1);
      }
    }
  }
  const packageOf = (file) => relative(packagesDir, file).split('/')[0];
  const collectorSrc = join(packagesDir, 'collector', 'src');
  const stageOf = (file) => {
    const path = relative(collectorSrc, file);
    return COLLECTOR_STAGES.findIndex((stage) => stage.paths.some((prefix) => path.startsWith(prefix)));
  };
  const problems = [
    ...findCycles(graph).map(
      (members) => `cycle: ${members.map((file) => relative(root, file)).join(' → ')}`,
    ),
    ...findLayerViolations(graph, packageOf, stageOf).map((line) => line.replaceAll(`${root}/`, '')),
  ];
  if (problems.length > 0) {
    console.error(
      `check-imports: ${problems.length} problem(s) in the import graph:\n  ${problems.join('\n  ')}`,
    );
    process.exit(1);
  }
  const edges = [...graph.values()].reduce((total, targets) => total + targets.length, 0);
  console.log(`check-imports: ${graph.size} modules, ${edges} imports, no cycles, layers respected`);
}

main();
