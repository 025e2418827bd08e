// CPU time of processes and threads, from Linux's /proc (the bench and the
// load test run on Linux; elsewhere these return null and the CPU columns
// stay empty).
//
// Per thread, /proc/<pid>/task/<tid>/schedstat's first field: nanoseconds
// the thread has run on a CPU (the scheduler's own accounting, no tick
// rounding). Per process, utime + stime of /proc/<pid>/stat, in clock
// ticks (10 ms here): it also counts threads that have exited, so it is
// kept as a cross-check of the per-thread sum.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let tick = null;
/** Milliseconds per clock tick (getconf CLK_TCK; 100 Hz = 10 ms on Linux). */
function tickMs() {
  if (tick == null) {
    try { tick = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()); } catch { tick = 10; }
  }
  return tick;
}

const read = (p) => { try { return readFileSync(p, 'utf8'); } catch { return null; } };

/** Child pids of `pid` (all its threads' children). */
function children(pid) {
  const out = [];
  let tids = [];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const tid of tids) {
    const c = read(`/proc/${pid}/task/${tid}/children`);
    if (c) out.push(...c.trim().split(/\s+/).filter(Boolean).map(Number));
  }
  return out;
}

/** Every descendant of `pid` named `comm` (e.g. 'workerd'). */
export function descendantsNamed(comm, pid = process.pid) {
  const found = [];
  const walk = (p) => {
    for (const c of children(p)) {
      if (read(`/proc/${c}/comm`)?.trim() === comm) found.push(c);
      walk(c);
    }
  };
  walk(pid);
  return found;
}

/**
 * The workerd process a Miniflare instance started: call `before()` ahead
 * of `new Miniflare(...)`, then `after()` once it is ready. Null when there
 * is not exactly one new workerd (not Linux, or another instance started
 * at the same time).
 */
export function workerdWatcher() {
  const seen = new Set(descendantsNamed('workerd'));
  return () => {
    const fresh = descendantsNamed('workerd').filter((p) => !seen.has(p));
    return fresh.length === 1 ? fresh[0] : null;
  };
}

/**
 * CPU time of a process so far, ms: `main` (the thread whose id is the
 * process id: in workerd, the one that runs the isolates, the event loop
 * and Miniflare's KV/R2 simulators), `other` (its other live threads: V8's
 * background compiler and GC, workerd's I/O helpers), `total` (main +
 * other) and `ticks` (utime + stime, the whole process incl. exited
 * threads, tick resolution). Null when the process is gone or this is not
 * Linux.
 */
export function processCpu(pid) {
  if (!pid) return null;
  let tids;
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return null; }
  let main = 0, other = 0;
  for (const tid of tids) {
    const s = read(`/proc/${pid}/task/${tid}/schedstat`);
    if (!s) continue; // exited meanwhile
    const ns = Number(s.split(' ')[0]);
    if (Number(tid) === pid) main += ns; else other += ns;
  }
  const stat = read(`/proc/${pid}/stat`);
  if (stat == null) return null;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = (Number(f[11]) + Number(f[12])) * tickMs();
  return { main: main / 1e6, other: other / 1e6, total: (main + other) / 1e6, ticks };
}

/** b − a per field (ms), divided by n. */
export function cpuDelta(a, b, n = 1) {
  if (!a || !b || !n) return null;
  const d = {};
  for (const k of ['main', 'other', 'total', 'ticks']) d[k] = a[k] == null || b[k] == null ? null : Math.max(0, b[k] - a[k]) / n;
  return d;
}

/** This Node process's CPU (user + system, all threads), ms. */
export function ownCpu() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Whether a worker has finished warming up, from the CPU of its last
 * request (cpuDelta): V8 compiles hot wasm and JS with its
 * optimising tier on background threads, so while workerd's other threads
 * still spend more than 5 % of the main thread's CPU (and over 0.3 ms) per
 * request, functions are still being swapped for optimised code and the
 * timings would still fall. Measured: after 15 uploads of a 1×1 PNG into
 * ours, the next 20 still cost 12 ms of background CPU each and took 27 ms
 * each; the 20 after those, 1 ms and 12 ms. Without CPU figures (not Linux),
 * the fixed count only. One quiet request is not enough (the compiler
 * works in bursts): warm-up ends after three in a row.
 */
export const settled = (cpu) => !cpu || cpu.other <= Math.max(0.3, 0.05 * cpu.main);
