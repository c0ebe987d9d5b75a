// Live updates: one EventSource on /api/v1/events. Every catalogue change bumps `libraryVersion`,
// which the views watch to reload what they show; added ids are remembered briefly to highlight them.
import { Store } from './store';

export interface ChangeEvent {
  updateId: number;
  added: string[];
  removed: string[];
  truncated?: true;
}

export const libraryVersion = new Store(0);
export const freshIds = new Store<ReadonlySet<string>>(new Set());
export const liveState = new Store<'connecting' | 'live' | 'offline'>('connecting');

let lastUpdateId: number | null = null;

function bump(): void {
  libraryVersion.update((v) => v + 1);
}

export function startLive(): void {
  if (typeof EventSource === 'undefined') {
    liveState.set('offline');
    return;
  }
  const es = new EventSource('/api/v1/events');
  es.addEventListener('hello', (e) => {
    liveState.set('live');
    const { updateId } = JSON.parse((e as MessageEvent<string>).data) as { updateId: number };
    // Back after a drop: reload if the library changed while we were away.
    if (lastUpdateId !== null && updateId !== lastUpdateId) bump();
    lastUpdateId = updateId;
  });
  es.addEventListener('change', (e) => {
    const c = JSON.parse((e as MessageEvent<string>).data) as ChangeEvent;
    lastUpdateId = c.updateId;
    if (c.added.length) {
      const ids = c.added.filter((id) => !c.removed.includes(id));
      freshIds.update((s) => new Set([...s, ...ids]));
      // The highlight fades after a while; the ids go with it.
      setTimeout(() => freshIds.update((s) => new Set([...s].filter((id) => !ids.includes(id)))), 60_000);
    }
    bump();
  });
  es.onerror = () => {
    // EventSource reconnects by itself (the server sends `retry: 3000`); show the state meanwhile.
    liveState.set(es.readyState === EventSource.CLOSED ? 'offline' : 'connecting');
    if (es.readyState === EventSource.CLOSED) setTimeout(startLive, 10_000);
  };
}

/** For changes this page made itself, in case the event stream is down (too many listeners). */
export function changedHere(): void {
  if (liveState.get() !== 'live') bump();
}
