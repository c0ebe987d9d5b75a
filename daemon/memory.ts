// Full garbage collections after start-up work. Loading a 50 000-track catalogue, the start-up scan
// and the catalogue write after it leave tens of MB of dead objects in V8's old space, which an idle
// daemon may not collect for a long time; on a 512 MB box that is memory other programs could use.
// Not a tuning knob: run once, after start-up.
import v8 from 'node:v8';
import vm from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';

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

/** Waits until `quietForMs()` reports `ms` without requests, or `maxWaitMs` have passed, or `signal` aborts. */
async function quiet(quietForMs: () => number, ms: number, maxWaitMs: number, signal: AbortSignal): Promise<void> {
  const until = Date.now() + maxWaitMs;
  while (!signal.aborted && quietForMs() < ms && Date.now() < until) await sleep(250, undefined, { ref: false });
}

/**
 * Two collections a second apart: the first frees the dead objects, but their pages are swept
 * concurrently and stay committed; the second finds them empty and gives them back. At 50 000
 * tracks one collection left RSS at 179 MB, the second brought it to 137 MB. Each stops the daemon
 * for about 75 ms, so each waits for a second without requests (a minute at most): a remote paging
 * through the library right after the first scan should not feel them.
 */
export async function releaseMemoryAfterStartup(quietForMs: () => number, signal: AbortSignal): Promise<void> {
  for (let i = 0; i < 2; i++) {
    if (i > 0) await sleep(1000, undefined, { ref: false });
    await quiet(quietForMs, 1000, 60_000, signal);
    if (signal.aborted) return; // stopping: the memory goes back with the process
    fullGc();
  }
}
