/** Judges the measured pairs and renders them as the markdown of BENCHMARKS.md. */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { median } from './measure.js';
import type { Goal, PairSpec, RoundResult, Settings } from './pairs.js';

export interface PairOutcome {
  spec: PairSpec;
  rounds: RoundResult[];
  /** Why the pair could not be measured. */
  error?: string;
}

export interface Environment {
  date: string;
  /** 1-minute load average when the run started: other work on the machine skews the figures. */
  loadAverage: number;
  cores: number;
  memoryGiB: number;
  cpu: string;
  versions: Record<string, string>;
}

const BEGIN = '<!-- bench:begin (written by npm run bench) -->';
const END = '<!-- bench:end -->';

export async function collectEnvironment(repoRoot: string, mariadb: string): Promise<Environment> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const version = async (name: string) =>
    JSON.parse(await readFile(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')).version as string;
  return {
    date: new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC',
    loadAverage: loadavg()[0],
    cores: cpus().length,
    memoryGiB: totalmem() / 1024 ** 3,
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown',
    versions: {
      Node: process.version.slice(1),
      Nest: await version('@nestjs/core'),
      Express: await version('express'),
      TypeORM: await version('typeorm'),
      mysql2: await version('mysql2'),
      MariaDB: mariadb,
      autocannon: await version('autocannon'),
      BullMQ: await version('bullmq'),
    },
  };
}

interface Verdict {
  a: number;
  b: number;
  /** The limit's median, NaN without one. */
  c: number;
  /** A/B, or the median of A − B. */
  value: number;
  extras: Array<{ label: string; worst: number; goal: Goal; ok: boolean }>;
  /** The medians of `alsoMeasured`. */
  also: Array<{ label: string; value: number }>;
  ok: boolean;
}

function meets(value: number, goal: Goal): boolean {
  return goal.op === '>=' ? value >= goal.value : value <= goal.value;
}

export function judge({ spec, rounds }: PairOutcome): Verdict {
  const a = median(rounds.map((round) => round.a));
  const b = median(rounds.map((round) => round.b));
  const c = median(rounds.map((round) => round.c ?? Number.NaN));
  const value = spec.compare === 'ratio' ? a / b : median(rounds.map((round) => round.a - round.b));
  const extras = (spec.extraGoals ?? []).map((extra) => {
    const worst = Math.max(...rounds.map((round) => round.extra?.[extra.key] ?? Number.NaN));
    return { label: extra.label, worst, goal: extra, ok: meets(worst, extra) };
  });
  const also = (spec.alsoMeasured ?? []).map(({ key, label }) => ({
    label,
    value: median(rounds.map((round) => round.extra?.[key] ?? Number.NaN)),
  }));
  const ok = (spec.goal === undefined || meets(value, spec.goal)) && extras.every((extra) => extra.ok);
  return { a, b, c, value, extras, also, ok };
}

/** Whether every round of a pair produced finite figures. */
export function measured(outcome: PairOutcome): boolean {
  return (
    !outcome.error &&
    outcome.rounds.length > 0 &&
    outcome.rounds.every((round) => Number.isFinite(round.a) && Number.isFinite(round.b) && round.b > 0)
  );
}

function number(value: number): string {
  if (Number.isNaN(value)) {
    return '—';
  }
  if (Number.isInteger(value)) {
    return value.toLocaleString('en-US');
  }
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function withUnit(value: number, unit: string): string {
  return `${number(value)} ${unit}`;
}

function goalText(goal: Goal | undefined, compare: PairSpec['compare'], unit: string): string {
  if (!goal) {
    return '—';
  }
  const op = goal.op === '>=' ? '≥' : '≤';
  return compare === 'ratio' ? `${op} ${goal.value}×` : `${op} +${goal.value} ${unit}`;
}

function resultText(verdict: Verdict, spec: PairSpec): string {
  const main = spec.compare === 'ratio' ? `${verdict.value.toFixed(2)}×` : `+${number(verdict.value)} ${spec.unit}`;
  const also = verdict.also.map(
    ({ label, value }) =>
      `${label}: ${withUnit(value, spec.unit)}, ` +
      (spec.compare === 'ratio' ? `${(value / verdict.b).toFixed(2)}×` : `+${number(value - verdict.b)} ${spec.unit}`),
  );
  return [main, ...also, ...verdict.extras.map((extra) => `${number(extra.worst)} ${extra.label}`)].join('; ');
}

/** What side A of a pair is, for this run's settings. */
function measuredText(spec: PairSpec, settings: Settings): string {
  return typeof spec.measured === 'function' ? spec.measured(settings) : spec.measured;
}

/** Rows in their order: 1, 2, …, 5, 5b, 5c, 6, 7. */
function byRow(x: PairOutcome, y: PairOutcome): number {
  return x.spec.row.localeCompare(y.spec.row, 'en', { numeric: true });
}

function tableRow(outcome: PairOutcome, settings: Settings): string {
  const { spec } = outcome;
  const side = measuredText(spec, settings);
  const goals = [
    goalText(spec.goal, spec.compare, spec.unit),
    ...(spec.extraGoals ?? []).map((extra) => `${extra.op === '>=' ? '≥' : '≤'} ${extra.value} ${extra.label}`),
  ].join(', ');
  if (!measured(outcome)) {
    return `| ${spec.row} | ${side} | — | ${spec.against} | — | not measured: ${outcome.error ?? 'no figures'} | ${goals} | ❌ | ${spec.limit ?? '—'} |`;
  }
  const verdict = judge(outcome);
  const limit = spec.limit
    ? `${spec.limit}: ${withUnit(verdict.c, spec.unit)}, A/C ${(verdict.a / verdict.c).toFixed(2)}×`
    : '—';
  return (
    `| ${spec.row} | ${side} | ${withUnit(verdict.a, spec.unit)} | ${spec.against} | ` +
    `${withUnit(verdict.b, spec.unit)} | ${resultText(verdict, spec)} | ${goals} | ` +
    `${spec.goal === undefined ? '—' : verdict.ok ? '✅' : '❌'} | ${limit} |`
  );
}

function roundsText(outcome: PairOutcome): string {
  const hasLimit = outcome.rounds.some((round) => round.c !== undefined);
  const rounds = outcome.rounds.map(
    (round) => `${number(round.a)} / ${number(round.b)}${hasLimit ? ` / ${number(round.c ?? Number.NaN)}` : ''}`,
  );
  const keys = [...new Set(outcome.rounds.flatMap((round) => Object.keys(round.extra ?? {})))];
  const extras = keys.map(
    (key) => `${key} ${number(median(outcome.rounds.map((round) => round.extra?.[key] ?? Number.NaN)))}`,
  );
  return (
    `- row ${outcome.spec.row}: A / B${hasLimit ? ' / C' : ''} (${outcome.spec.unit}) ${rounds.join(' · ') || '—'}` +
    (extras.length > 0 ? `; medians: ${extras.join(', ')}` : '')
  );
}

export function renderReport(
  environment: Environment,
  settings: Settings,
  outcomes: PairOutcome[],
  quick: boolean,
): string {
  const versions = Object.entries(environment.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  const sorted = [...outcomes].sort(byRow);
  // Once each: rows that measure alike share their text.
  const methods = new Set(
    sorted.flatMap(({ spec }) =>
      spec.method === undefined ? [] : [typeof spec.method === 'function' ? spec.method(settings) : spec.method],
    ),
  );
  return [
    `Measured ${environment.date}${quick ? ' (--quick: figures not meaningful)' : ''} on ${environment.cores} cores ` +
      `(${environment.cpu}), ${environment.memoryGiB.toFixed(1)} GiB RAM; ${versions}. Server, MariaDB and ` +
      `load generator share the machine; every server runs in its own process on 127.0.0.1. Load average ` +
      `${environment.loadAverage.toFixed(2)} when the run started.`,
    '',
    `Method: ${settings.rounds} rounds per pair after a shorter warm-up round, A and B (and the limit C) alternating (AB(C), (C)BA, …), ` +
      `medians; load runs are autocannon, ${settings.connections} keep-alive connections, ${settings.loadSeconds} s; ` +
      `row 3 completes ${settings.completions} background requests per round (${settings.connections} clients, each submitting and polling its request with backoff); row 4 runs ` +
      `${settings.loopIterations.toLocaleString('en-US')} iterations; row 5 stores and reads back ${settings.bigMiB} MiB per round (no warm-up), its RSS sampled every 20 ms, against the median RSS over 1 s of the idle app before any big result; rows 5b and 5c do the same with ${settings.storeMiB} MiB on an app of their own that keeps its results in S3 (s3rver, started by the bench on this machine) or in the database, its idle RSS taken after one small result was stored and read back.` +
      [...methods].map((method) => ` ${method}`).join(''),
    '',
    '| # | measured (A) | A | against (B) | B | result | goal | met | limit (C), same run |',
    '|---|---|---|---|---|---|---|---|---|',
    ...sorted.map((outcome) => tableRow(outcome, settings)),
    '',
    'Per round, and the medians of further figures (per request: SQL statements the server sent, CPU ms of the ' +
      'server process and of MariaDB, background work included):',
    '',
    ...sorted.map(roundsText),
  ].join('\n');
}

/** Puts the generated section into `file`, keeping what was written around it by hand (the findings). */
export async function writeReport(file: string, section: string): Promise<void> {
  const current = existsSync(file)
    ? await readFile(file, 'utf8')
    : `# Benchmarks\n\n${BEGIN}\n${END}\n\n## Findings\n\n(none yet)\n`;
  const start = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  const next =
    start >= 0 && end > start
      ? `${current.slice(0, start + BEGIN.length)}\n${section}\n${current.slice(end)}`
      : `${current.trimEnd()}\n\n${BEGIN}\n${section}\n${END}\n`;
  await writeFile(file, next);
}
