/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, as `npm run bench -- --profile` writes them):
 * time by package, the top functions by self time, and the module's own functions by inclusive time, with
 * frames of the built module mapped back to `src/*.ts` lines through the source maps.
 *
 *   node build/bench/profile-top.js .bench/profiles/bgrs-app.cpuprofile [--top 25] [--under report]
 *
 * --under NAME  only the time spent inside functions named NAME (their callees included), by self time.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Where the module's compiled code runs from: the package build, or the all-in-one build. */
const MODULE_DIRS = [`${REPO_ROOT}dist/`, `${REPO_ROOT}build/src/`];

const sourceMaps = new Map<string, SourceMap | undefined>();

function sourceMapOf(path: string): SourceMap | undefined {
  if (!sourceMaps.has(path)) {
    const file = `${path}.map`;
    sourceMaps.set(path, existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, 'utf8'))) : undefined);
  }
  return sourceMaps.get(path);
}

function isModuleFrame(url: string): boolean {
  return MODULE_DIRS.some((dir) => url.startsWith(`file://${dir}`));
}

/** `function file:line`, module frames as their TypeScript source. */
function frameName({ functionName, url, lineNumber, columnNumber }: ProfileNode['callFrame']): string {
  const name = functionName || '(anonymous)';
  if (!url) {
    return name;
  }
  if (isModuleFrame(url)) {
    const path = fileURLToPath(url);
    const entry = sourceMapOf(path)?.findEntry(lineNumber, columnNumber);
    if (entry && 'originalSource' in entry) {
      const source = relative(REPO_ROOT, fileURLToPath(new URL(entry.originalSource, url)));
      return `${name} ${source}:${entry.originalLine + 1}`;
    }
  }
  const shown = url.startsWith('file://') ? relative(REPO_ROOT, fileURLToPath(url)) : url;
  return `${name} ${shown}:${lineNumber + 1}`;
}

/** Which package a frame belongs to. */
function areaOf(url: string, functionName: string): string {
  if (!url) {
    return functionName || '(native)';
  }
  if (url.startsWith('node:')) {
    return 'node internals';
  }
  if (isModuleFrame(url)) {
    return 'nestjs-bgrs';
  }
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  if (pkg) {
    return pkg;
  }
  return url.includes('/build/bench/') ? 'bench servers' : 'other';
}

function table(title: string, rows: Array<[string, number]>, total: number, top: number): string {
  const lines = rows
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(
      ([name, us]) =>
        `${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`,
    );
  return `${title}\n${lines.join('\n')}`;
}

/** The ids of the nodes inside a call of a function named `name` (that call included). */
function inside(profile: Profile, name: string): Set<number> {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const found = new Set<number>();
  const walk = (id: number, within: boolean) => {
    const node = nodes.get(id)!;
    const now = within || node.callFrame.functionName === name;
    if (now) {
      found.add(id);
    }
    (node.children ?? []).forEach((child) => walk(child, now));
  };
  walk(profile.nodes[0].id, false);
  return found;
}

function summarise(profile: Profile, top: number, under: string | undefined): string {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, index) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  const kept = under ? inside(profile, under) : undefined;
  const busy = [...self].filter(
    ([id]) => nodes.get(id)!.callFrame.functionName !== '(idle)' && (!kept || kept.has(id)),
  );
  const total = busy.reduce((sum, [, us]) => sum + us, 0);

  const sum = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, us] of busy) {
    const frame = nodes.get(id)!.callFrame;
    sum(byArea, areaOf(frame.url, frame.functionName), us);
    sum(byFunction, frameName(frame), us);
  }

  // Inclusive time of the module's functions, each counted once per call stack (recursion).
  const inclusive = new Map<string, number>();
  const totals = new Map<number, number>();
  const totalOf = (id: number): number => {
    let value = totals.get(id);
    if (value === undefined) {
      value = (self.get(id) ?? 0) + (nodes.get(id)!.children ?? []).reduce((acc, child) => acc + totalOf(child), 0);
      totals.set(id, value);
    }
    return value;
  };
  const walk = (id: number, open: Set<string>) => {
    const node = nodes.get(id)!;
    let key: string | undefined;
    if (isModuleFrame(node.callFrame.url)) {
      key = frameName(node.callFrame);
      if (!open.has(key)) {
        sum(inclusive, key, totalOf(id));
        open.add(key);
      } else {
        key = undefined;
      }
    }
    for (const child of node.children ?? []) {
      walk(child, open);
    }
    if (key) {
      open.delete(key);
    }
  };
  walk(profile.nodes[0].id, new Set());

  return [
    `busy time ${(total / 1000).toFixed(0)} ms (idle excluded${under ? `; inside ${under}() only` : ''})`,
    table('\nby package (self time):', [...byArea], total, top),
    table('\ntop functions by self time:', [...byFunction], total, top),
    table('\nnestjs-bgrs functions by inclusive time:', [...inclusive], total, top),
  ].join('\n');
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, under: { type: 'string' } },
});
if (positionals.length === 0) {
  console.error('usage: node build/bench/profile-top.js <file.cpuprofile> [--top N] [--under NAME]');
  process.exit(2);
}
for (const file of positionals) {
  console.log(
    `== ${file}\n${summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(values.top), values.under)}\n`,
  );
}
