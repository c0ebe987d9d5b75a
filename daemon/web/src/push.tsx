// Pushing songs from this browser: pick or drop files, one XMLHttpRequest each (two at a time) so
// every file has its own progress bar, cancel button and outcome in words.
import { useEffect, useRef, useState } from 'preact/hooks';
import { pushFile, type PushHandle, type PushResult } from './api';
import { askDeviceName, askPin, currentPin, forgetPin } from './dialogs';
import { deviceName } from './device';
import { bytes, plural } from './format';
import { Icon } from './icons';
import { changedHere } from './live';
import { stereo } from './stereo';
import { Store, useStore } from './store';

type State = 'queued' | 'sending' | 'storing' | 'added' | 'duplicate' | 'failed' | 'cancelled';

export interface Upload {
  id: number;
  file: File;
  loaded: number;
  total: number;
  state: State;
  /** What happened, in words; `detail` is the stereo's own explanation when it adds something. */
  message: string;
  detail: string | null;
  trackId: string | null;
}

const PARALLEL = 2;
export const uploads = new Store<Upload[]>([]);
const handles = new Map<number, PushHandle>();
let nextId = 1;

const done = (u: Upload) => u.state === 'added' || u.state === 'duplicate' || u.state === 'failed' || u.state === 'cancelled';

function patch(id: number, p: Partial<Upload>): void {
  uploads.update((list) => list.map((u) => (u.id === id ? { ...u, ...p } : u)));
}

export function enqueue(files: Iterable<File>): void {
  const added: Upload[] = [...files].map((file) => ({ id: nextId++, file, loaded: 0, total: file.size, state: 'queued', message: 'Waiting…', detail: null, trackId: null }));
  if (!added.length) return;
  uploads.update((list) => [...list, ...added]);
  pump();
}

export function cancel(id: number): void {
  const u = uploads.get().find((x) => x.id === id);
  if (!u || done(u)) return;
  const h = handles.get(id);
  if (h) h.cancel(); // the request's abort handler records the outcome
  else patch(id, { state: 'cancelled', message: 'Cancelled' });
}

export function clearFinished(): void {
  uploads.update((list) => list.filter((u) => !done(u)));
}

function pump(): void {
  const list = uploads.get();
  let active = list.filter((u) => u.state === 'sending' || u.state === 'storing').length;
  for (const u of list) {
    if (active >= PARALLEL) break;
    if (u.state !== 'queued') continue;
    active++;
    void send(u);
  }
}

/** The outcome of one push, in the words a person needs. */
function outcome(r: PushResult): Pick<Upload, 'state' | 'message' | 'detail'> {
  const detail = r.message;
  switch (r.status) {
    case 201:
      return { state: 'added', message: 'Added to the library', detail: null };
    case 200:
      return { state: 'duplicate', message: r.duplicate ? 'Already in the library (not stored twice)' : 'Stored', detail: null };
    case 415:
      return { state: 'failed', message: 'Not an audio file the stereo can play', detail };
    case 413:
      return { state: 'failed', message: 'Too big for the stereo', detail };
    case 507:
      return { state: 'failed', message: "The stereo's disk is full", detail };
    case 429:
      return { state: 'failed', message: 'Too many wrong PINs: wait a minute and try again', detail: null };
    case 401:
      return { state: 'failed', message: 'The PIN is needed to push songs', detail: null };
    case 403:
      return { state: 'failed', message: r.code === 'wrong_pin' ? 'Wrong PIN' : 'The stereo refused this push', detail: r.code === 'wrong_pin' ? null : detail };
    default:
      return { state: 'failed', message: `The stereo could not store it (${r.status || 'no answer'})`, detail };
  }
}

async function send(u: Upload): Promise<void> {
  patch(u.id, { state: 'sending', message: 'Sending…', loaded: 0 });
  let pin = currentPin();
  if (!pin && stereo.get()?.pinRequired) {
    pin = await askPin('This stereo asks for its PIN before songs are pushed to it.');
    if (!pin) {
      patch(u.id, { state: 'failed', message: 'The PIN is needed to push songs', detail: null });
      pump();
      return;
    }
  }
  for (;;) {
    const current = uploads.get().find((x) => x.id === u.id);
    if (!current || current.state === 'cancelled') break;
    const handle = pushFile(u.file, pin, (loaded, total) => {
      const now = uploads.get().find((x) => x.id === u.id);
      if (!now || done(now)) return;
      // All bytes sent: the stereo now checks, hashes and safely stores the file before it answers.
      patch(u.id, loaded >= total ? { loaded, total, state: 'storing', message: 'Checking and storing…' } : { loaded, total });
    });
    handles.set(u.id, handle);
    try {
      const r = await handle.done;
      handles.delete(u.id);
      const wrongPin = r.status === 401 || (r.status === 403 && r.code === 'wrong_pin');
      if (wrongPin) {
        forgetPin();
        pin = await askPin(r.status === 401 ? 'This stereo asks for its PIN before songs are pushed to it.' : 'That PIN was wrong. Try again.');
        if (pin) {
          patch(u.id, { state: 'sending', message: 'Sending…', loaded: 0 });
          continue;
        }
      }
      patch(u.id, { ...outcome(r), loaded: r.status < 300 ? u.file.size : 0, trackId: r.track?.id ?? null });
      if (r.status === 201) changedHere();
    } catch (err) {
      handles.delete(u.id);
      const cancelled = (err as { code?: string }).code === 'cancelled';
      patch(u.id, { state: cancelled ? 'cancelled' : 'failed', message: cancelled ? 'Cancelled' : 'The connection to the stereo was lost', detail: null });
    }
    break;
  }
  pump();
}

// ---- Picking and dropping ----

let openPicker: (() => void) | null = null;

export function pickFiles(): void {
  openPicker?.();
}

/** Audio types and the extensions pickers may not map to one (FLAC, Opus on some phones). */
const ACCEPT = 'audio/*,.mp3,.flac,.m4a,.aac,.alac,.ogg,.oga,.opus,.wav,.aif,.aiff';

export function FilePicker() {
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    openPicker = () => input.current?.click();
    return () => {
      openPicker = null;
    };
  }, []);
  return (
    <input
      ref={input}
      id="push-input"
      class="sr-only"
      type="file"
      multiple
      accept={ACCEPT}
      tabIndex={-1}
      aria-hidden="true"
      onChange={(e) => {
        const el = e.currentTarget;
        enqueue(el.files ?? []);
        el.value = ''; // so picking the same file again still fires
      }}
    />
  );
}

/** Dropping files anywhere on the page pushes them; an overlay says so while dragging. */
export function DropZone() {
  const [over, setOver] = useState(false);
  useEffect(() => {
    let depth = 0;
    const hasFiles = (e: DragEvent) => !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');
    const enter = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth++;
      setOver(true);
    };
    const overFn = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      e.dataTransfer!.dropEffect = 'copy';
    };
    const leave = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      depth = Math.max(0, depth - 1);
      if (!depth) setOver(false);
    };
    const drop = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      setOver(false);
      enqueue(e.dataTransfer!.files);
    };
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragover', overFn);
    window.addEventListener('dragleave', leave);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragenter', enter);
      window.removeEventListener('dragover', overFn);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('drop', drop);
    };
  }, []);
  const name = useStore(stereo)?.name ?? 'the stereo';
  return over ? (
    <div class="drop-overlay" aria-hidden="true">
      <p>Drop songs to push them to {name}</p>
    </div>
  ) : null;
}

function UploadRow({ u }: { u: Upload }) {
  const finished = done(u);
  const pct = u.total ? Math.round((u.loaded / u.total) * 100) : 0;
  return (
    <li class={`upload ${u.state}`} data-state={u.state}>
      <div class="upload-head">
        <span class="ellipsis upload-name">{u.file.name}</span>
        <span class="muted upload-size">{bytes(u.file.size)}</span>
        {!finished && (
          <button type="button" class="icon small" aria-label={`Cancel ${u.file.name}`} onClick={() => cancel(u.id)}>
            <Icon name="close" />
          </button>
        )}
      </div>
      {(u.state === 'sending' || u.state === 'storing' || u.state === 'queued') && (
        <progress max={u.total || 1} value={u.loaded} aria-label={`${u.file.name}: ${pct}% sent`} />
      )}
      <p class="upload-message" aria-live="polite">
        <span>{u.message}</span>
        {u.detail && <span class="muted"> — {u.detail}</span>}
        {u.trackId && (
          <>
            {' '}
            <a href={`#/track/${encodeURIComponent(u.trackId)}`}>Show</a>
          </>
        )}
      </p>
    </li>
  );
}

export function PushPanel() {
  const list = useStore(uploads);
  const s = useStore(stereo);
  const [me, setMe] = useState(deviceName());
  if (!list.length) return null;
  const finished = list.filter(done).length;
  const failed = list.filter((u) => u.state === 'failed').length;
  return (
    <section class="push-panel" aria-labelledby="push-title">
      <div class="push-head">
        <h2 id="push-title">
          Pushing to {s?.name ?? 'the stereo'}: {finished} of {plural(list.length, 'file')} done{failed ? `, ${failed} not stored` : ''}
        </h2>
        <button type="button" class="link" onClick={() => void askDeviceName().then(() => setMe(deviceName()))}>
          From: {me}
        </button>
        {finished > 0 && (
          <button type="button" class="link" onClick={clearFinished}>
            Clear finished
          </button>
        )}
      </div>
      <ul class="uploads">
        {list.map((u) => (
          <UploadRow key={u.id} u={u} />
        ))}
      </ul>
    </section>
  );
}
