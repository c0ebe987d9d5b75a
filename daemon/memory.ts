// One full garbage collection after start-up work. Loading a 50 000-track catalogue and the start-up
// scan leave tens of MB of dead objects in V8's old space, which an idle daemon may not collect for a
// long time; on a 512 MB box that is memory other programs could use. Not a tuning knob: called once.
import v8 from 'node:v8';
import vm from 'node:vm';

let gc: (() => void) | null | undefined;

export function collectGarbageOnce(): void {
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
