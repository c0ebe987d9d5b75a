// Modal questions as promises: the PIN, "delete this?", this device's name. Native <dialog>, so focus
// is trapped, Escape cancels and screen readers announce it without extra code.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { Store, useStore } from './store';
import { deviceName, setDeviceName } from './device';

type Request =
  | { kind: 'pin'; message: string; resolve: (pin: string | null) => void }
  | { kind: 'confirm'; title: string; text: string; action: string; resolve: (ok: boolean) => void }
  | { kind: 'device'; resolve: (name: string | null) => void };

const queue = new Store<Array<{ id: number; req: Request }>>([]);
let seq = 0;

function ask<T>(make: (resolve: (v: T) => void) => Request): Promise<T> {
  return new Promise((resolve) => queue.update((q) => [...q, { id: ++seq, req: make(resolve) }]));
}

function finish(): void {
  queue.update((q) => q.slice(1));
}

// ---- The PIN, kept for this tab only ----

const PIN_KEY = 'hifid.pin';
let pinMemory: string | null = null;

export function currentPin(): string | null {
  try {
    return sessionStorage.getItem(PIN_KEY) ?? pinMemory;
  } catch {
    return pinMemory;
  }
}

export function forgetPin(): void {
  pinMemory = null;
  try {
    sessionStorage.removeItem(PIN_KEY);
  } catch {
    // blocked storage: memory only
  }
}

function keepPin(pin: string): void {
  pinMemory = pin;
  try {
    sessionStorage.setItem(PIN_KEY, pin);
  } catch {
    // blocked storage: memory only
  }
}

let pinQuestion: Promise<string | null> | null = null;

/** Asks for the PIN once even when several pushes need it at the same moment. */
export function askPin(message: string): Promise<string | null> {
  pinQuestion ??= ask<string | null>((resolve) => ({ kind: 'pin', message, resolve })).then((pin) => {
    pinQuestion = null;
    if (pin) keepPin(pin);
    return pin;
  });
  return pinQuestion;
}

export function askConfirm(title: string, text: string, action: string): Promise<boolean> {
  return ask<boolean>((resolve) => ({ kind: 'confirm', title, text, action, resolve }));
}

export function askDeviceName(): Promise<string | null> {
  return ask<string | null>((resolve) => ({ kind: 'device', resolve }));
}

// ---- Rendering ----

function Modal(props: { title: string; onCancel: () => void; onSubmit: () => void; submit: string; danger?: boolean; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current!;
    if (!d.open) d.showModal();
    return () => {
      if (d.open) d.close();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      aria-labelledby="dialog-title"
      onCancel={(e) => {
        e.preventDefault();
        props.onCancel();
      }}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          props.onSubmit();
        }}
      >
        <h2 id="dialog-title">{props.title}</h2>
        {props.children}
        <div class="dialog-buttons">
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" class={props.danger ? 'danger' : 'primary'}>
            {props.submit}
          </button>
        </div>
      </form>
    </dialog>
  );
}

function PinDialog({ req }: { req: Extract<Request, { kind: 'pin' }> }) {
  const [pin, setPin] = useState('');
  const done = (v: string | null) => {
    finish();
    req.resolve(v);
  };
  return (
    <Modal title="PIN" submit="OK" onCancel={() => done(null)} onSubmit={() => done(pin.trim() || null)}>
      <p id="pin-why">{req.message}</p>
      <label for="pin-input">The stereo's PIN</label>
      <input id="pin-input" type="password" inputMode="numeric" autoComplete="off" autoFocus required value={pin} onInput={(e) => setPin(e.currentTarget.value)} aria-describedby="pin-why" />
    </Modal>
  );
}

function ConfirmDialog({ req }: { req: Extract<Request, { kind: 'confirm' }> }) {
  const done = (v: boolean) => {
    finish();
    req.resolve(v);
  };
  return (
    <Modal title={req.title} submit={req.action} danger onCancel={() => done(false)} onSubmit={() => done(true)}>
      <p>{req.text}</p>
    </Modal>
  );
}

function DeviceDialog({ req }: { req: Extract<Request, { kind: 'device' }> }) {
  const [name, setName] = useState(deviceName());
  const done = (v: string | null) => {
    if (v !== null) setDeviceName(v);
    finish();
    req.resolve(v);
  };
  return (
    <Modal title="This device" submit="Save" onCancel={() => done(null)} onSubmit={() => done(name)}>
      <p id="device-why">Songs you push are labelled with this name on the stereo.</p>
      <label for="device-input">Device name</label>
      <input id="device-input" type="text" maxLength={64} autoFocus value={name} onInput={(e) => setName(e.currentTarget.value)} aria-describedby="device-why" />
    </Modal>
  );
}

export function Dialogs() {
  const first = useStore(queue)[0];
  if (!first) return null;
  const { id, req } = first;
  switch (req.kind) {
    case 'pin':
      return <PinDialog key={id} req={req} />;
    case 'confirm':
      return <ConfirmDialog key={id} req={req} />;
    case 'device':
      return <DeviceDialog key={id} req={req} />;
  }
}
