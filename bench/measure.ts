/** How the benchmark measures: autocannon load, plain HTTP calls, background completions, and RSS sampling. */
import autocannon from 'autocannon';
import { readdir, readFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/** Keep-alive connections for the benchmark's own calls (not autocannon's). */
const agent = new Agent({ keepAlive: true, maxSockets: 128 });

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export interface LoadResult {
  /** 2xx answers. */
  count: number;
  /** 2xx answers per second. */
  rps: number;
  /** 99th percentile latency of the 2xx answers, ms. */
  p99: number;
  /** Answers that were not 2xx, and socket errors or timeouts. */
  failures: number;
}

/** `connections` keep-alive clients sending GET `url` for `seconds`. */
export async function load(url: string, seconds: number, connections = 50): Promise<LoadResult> {
  const result = await autocannon({ url, connections, duration: seconds });
  if (result['2xx'] === 0) {
    throw new Error(`${url}: no 2xx answer (${result.non2xx} non-2xx, ${result.errors} errors)`);
  }
  return {
    count: result['2xx'],
    rps: result['2xx'] / result.duration,
    p99: result.latency.p99,
    failures: result.non2xx + result.errors + result.timeouts,
  };
}

export interface HttpAnswer {
  status: number;
  body: Buffer;
}

/** One GET; the body kept whole, or only counted (`discard`) for big answers. */
export function get(url: string, discard = false): Promise<HttpAnswer & { bytes: number }> {
  return new Promise((resolve, reject) => {
    const call = request(url, { agent, timeout: 600_000 }, (response) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (!discard) {
          chunks.push(chunk);
        }
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks), bytes }));
      response.on('error', reject);
    });
    call.on('timeout', () => call.destroy(new Error(`${url}: timed out`)));
    call.on('error', reject);
    call.end();
  });
}

export async function getJson<T>(url: string, expectedStatus = 200): Promise<T> {
  const answer = await get(url);
  if (answer.status !== expectedStatus) {
    throw new Error(
      `GET ${url}: ${answer.status} (expected ${expectedStatus}): ${answer.body.toString().slice(0, 300)}`,
    );
  }
  return JSON.parse(answer.body.toString()) as T;
}

/** The record of a background request as `GET /bgrs/<rid>` shows it (the fields used here). */
export interface BgrsRecord {
  status_name: string;
  result: string | null;
}

const ENDED = new Set(['finished', 'failed', 'cancelled']);

/** Submits a background request (`path` with `bgrs=yes`) and answers its rid. */
export async function submit(base: string, path: string): Promise<string> {
  const separator = path.includes('?') ? '&' : '?';
  const { request: rid } = await getJson<{ request: string }>(`${base}${path}${separator}bgrs=yes`, 202);
  return rid;
}

/** Polls `GET /bgrs/<rid>` every `intervalMs` until the request has ended; throws unless it `finished`. */
export async function untilFinished(
  base: string,
  rid: string,
  intervalMs: number,
  timeoutMs: number,
): Promise<BgrsRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [record] = await getJson<BgrsRecord[]>(`${base}/bgrs/${rid}`);
    if (ENDED.has(record.status_name)) {
      if (record.status_name !== 'finished') {
        throw new Error(`${rid} ended as ${record.status_name}`);
      }
      return record;
    }
    if (Date.now() > deadline) {
      throw new Error(`${rid} not finished within ${timeoutMs} ms (still ${record.status_name})`);
    }
    await sleep(intervalMs);
  }
}

/**
 * End-to-end background completions: `clients` clients, each submitting a request and polling `GET /bgrs/<rid>`
 * until it has finished (first 10 ms after the 202, then after 20, 40, … at most 160 ms more), then the next one,
 * `count` requests in all. A `503` (queue full) is retried after 100 ms and counted. Answers completions per
 * second, from the first submission to the last `finished` seen, the polls each took, and the median time from
 * submitting to seeing `finished`.
 */
export async function completions(
  base: string,
  path: string,
  count: number,
  clients: number,
  timeoutMs: number,
): Promise<{ count: number; rps: number; refused: number; pollsPerCompletion: number; latencyMs: number }> {
  const separator = path.includes('?') ? '&' : '?';
  const deadline = Date.now() + timeoutMs;
  let submitted = 0;
  let refused = 0;
  let polls = 0;
  const latencies: number[] = [];
  const checkDeadline = () => {
    if (Date.now() > deadline) {
      throw new Error(`completions: not done within ${timeoutMs} ms`);
    }
  };
  const accept = async (): Promise<string> => {
    for (;;) {
      const answer = await get(`${base}${path}${separator}bgrs=yes`);
      if (answer.status === 202) {
        return (JSON.parse(answer.body.toString()) as { request: string }).request;
      }
      if (answer.status !== 503) {
        throw new Error(`${path}: ${answer.status}: ${answer.body.toString().slice(0, 300)}`);
      }
      refused++;
      checkDeadline();
      await sleep(100);
    }
  };
  const client = async () => {
    while (submitted < count) {
      submitted++;
      const submittedAt = performance.now();
      const rid = await accept();
      for (let delay = 10; ; delay = Math.min(delay * 2, 160)) {
        checkDeadline();
        await sleep(delay);
        const [record] = await getJson<BgrsRecord[]>(`${base}/bgrs/${rid}`);
        polls++;
        if (record.status_name === 'finished') {
          latencies.push(performance.now() - submittedAt);
          break;
        }
        if (ENDED.has(record.status_name)) {
          throw new Error(`${rid} ended as ${record.status_name}`);
        }
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, client));
  return {
    count,
    rps: (count * 1000) / (performance.now() - started),
    refused,
    pollsPerCompletion: polls / count,
    latencyMs: median(latencies),
  };
}

/** The resident set size of a process, MiB, from /proc/<pid>/status. */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  if (kib === undefined) {
    throw new Error(`no VmRSS for process ${pid}`);
  }
  return Number(kib) / 1024;
}

/** Samples a process's RSS every `intervalMs` while `work` runs; answers the peak, MiB. */
export async function peakRssDuring(pid: number, work: () => Promise<unknown>, intervalMs = 20): Promise<number> {
  let peak = await rssMiB(pid);
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await rssMiB(pid));
      await sleep(intervalMs);
    }
  })();
  try {
    await work();
  } finally {
    sampling = false;
    await sampler;
  }
  return Math.max(peak, await rssMiB(pid));
}

/** The median RSS of a process over `durationMs` of idleness, MiB. */
export async function idleRssMiB(pid: number, durationMs = 500, intervalMs = 20): Promise<number> {
  const samples: number[] = [];
  for (const end = Date.now() + durationMs; Date.now() < end;) {
    samples.push(await rssMiB(pid));
    await sleep(intervalMs);
  }
  return median(samples);
}

const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time (user + system) a process has used so far, ms, from /proc/<pid>/stat. */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** The pid of the first process on this machine whose command is one of `names`, if there is one. */
export async function processPid(...names: string[]): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (/^\d+$/.test(entry)) {
      const name = (await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '')).trim();
      if (names.includes(name)) {
        return Number(entry);
      }
    }
  }
  return undefined;
}

/** The pid of the local MariaDB (or MySQL) server, if it runs on this machine. */
export function databaseServerPid(): Promise<number | undefined> {
  return processPid('mariadbd', 'mysqld');
}
