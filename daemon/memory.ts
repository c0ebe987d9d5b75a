// Full garbage collections after start-up work. Loading a 50 000-track catalogue, the start-up scan
// and the catalogue write after it leave tens of MB of dead objects in V8's old space, which an idle
// daemon may not collect for a long time; on a 512 MB box that is memory other programs could use.
// The same holds after a burst of requests: a remote paging through 50 000 tracks leaves old space
// grown by what it promoted. Both are given back once the daemon is quiet.
import v8 from 'node:v8';
import vm from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from './log.js';

let gc: (() => void) | null | undefined;

function fullGc(): void {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  gc?.();
}

/**
 * A full collection that also moves every live object together. V8 normally evacuates only pages
 * that are mostly empty, but the catalogue's load leaves every page of old space about a fifth free
 * (interned duplicates, the parsed document): at 50 000 tracks a plain collection kept 51 MB
 * committed for 41 MB of objects, a compacting one 42 MB.
 */
function compactingGc(): void {
  v8.setFlagsFromString('--compact-on-every-full-gc');
  try {
    fullGc();
  } finally {
    v8.setFlagsFromString('--no-compact-on-every-full-gc');
  }
}

/** Waits `ms`, or less when `signal` aborts (never throws). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { ref: false, signal }).catch(() => undefined);
}

/** Waits until `quietForMs()` reports `ms` without requests, or `maxWaitMs` have passed, or `signal` aborts. */
async function quiet(quietForMs: () => number, ms: number, maxWaitMs: number, signal: AbortSignal): Promise<void> {
  const until = Date.now() + maxWaitMs;
  while (!signal.aborted && quietForMs() < ms && Date.now() < until) await pause(100, signal);
}

/** Committed MB per V8 heap space (new_space, old_space, code_space…), for the debug log. */
function spacesMb(): Record<string, number> {
  return Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, Math.round(s.physical_space_size / 104857.6) / 10]));
}

function committedMb(): number {
  return v8.getHeapSpaceStatistics().reduce((sum, s) => sum + s.physical_space_size, 0) / 1048576;
}

/**
 * The pause before the second collection. V8 gives back the new space a burst grew (up to
 * 2 × --max-semi-space-size, 3 MB here) only in a collection that sees a low allocation rate, which
 * it measures over the last 5 s: a collection 1 s after the burst kept it.
 */
const AFTERWARDS_MS = 6000;

/**
 * How long after start-up work or a burst of requests the memory given back settles: the quiet
 * second, AFTERWARDS_MS, and time for the collections themselves. What a steady-state RSS
 * reading (the benchmarks) waits for.
 */
export const MEMORY_SETTLES_MS = 1000 + AFTERWARDS_MS + 3000;

/**
 * A compacting collection, then a plain one AFTERWARDS_MS later for what the first requests after
 * it left behind, and the new space. The first stops the daemon for 150–300 ms at 50 000 tracks, so
 * each waits for a moment without requests (bounded: a remote polling all the time still gets the
 * memory back).
 */
export async function releaseMemoryAfterStartup(quietForMs: () => number, signal: AbortSignal, log: Logger): Promise<void> {
  const before = committedMb();
  await quiet(quietForMs, 300, 10_000, signal);
  if (signal.aborted) return; // stopping: the memory goes back with the process
  const t0 = performance.now();
  compactingGc();
  const pauseMs = performance.now() - t0;
  await pause(AFTERWARDS_MS, signal);
  await quiet(quietForMs, 1000, 30_000, signal);
  if (signal.aborted) return;
  fullGc();
  log.debug({ heapBeforeMb: Math.round(before), heapAfterMb: Math.round(committedMb()), pauseMs: Math.round(pauseMs), spaces: spacesMb() }, 'memory released after start-up');
}

/** Committed V8 heap that makes a collection worth it when idle: about what 1000 Browses promote. */
const BURST_GROWTH_MB = 6;

/**
 * After start-up: whenever the heap has grown by BURST_GROWTH_MB since the last collection and the
 * daemon has had a second without requests, two plain collections AFTERWARDS_MS apart (each about
 * 35 ms at 50 000 tracks; the first frees, the second returns the swept pages and the new space).
 * `dropCaches` runs just before the first: what it lets go of (views rebuilt on demand) goes too.
 * Runs until `signal` aborts.
 */
export async function releaseMemoryAfterBursts(quietForMs: () => number, signal: AbortSignal, log: Logger, dropCaches: () => void = () => undefined): Promise<void> {
  let baseline = committedMb();
  while (!signal.aborted) {
    await pause(500, signal);
    if (signal.aborted) return;
    if (committedMb() < baseline + BURST_GROWTH_MB || quietForMs() < 1000) continue;
    const before = committedMb();
    dropCaches();
    // Not compacting: after 10 s of Browse load that kept 0.7 MB less, for a 170 ms pause.
    fullGc();
    await pause(AFTERWARDS_MS, signal);
    if (signal.aborted) return;
    fullGc();
    baseline = committedMb();
    log.debug({ heapBeforeMb: Math.round(before), heapAfterMb: Math.round(baseline), spaces: spacesMb() }, 'memory released after a burst');
  }
}
