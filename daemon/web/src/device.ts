// "Pushed from": the name this browser gives itself, sent as X-Hifid-Device with every push.
// A name the user set (kept in localStorage) wins; else one guessed from the User-Agent.

const KEY = 'hifid.deviceName';
/** Used when storage is blocked (private mode): the name then lasts until the page closes. */
let memory: string | null = null;

/** A short device name from a User-Agent: "iPhone", "Pixel 8", "Mac"… */
export function guessDeviceName(ua: string, touchPoints = 0): string {
  if (/iPhone/.test(ua)) return 'iPhone';
  if (/iPad/.test(ua)) return 'iPad';
  // iPadOS asks for desktop sites with a Mac User-Agent; only the touch screen gives it away.
  if (/Macintosh/.test(ua) && touchPoints > 1) return 'iPad';
  const android = /Android[ \d.]*;\s*([^;)]+?)(?:\s+Build\/[^;)]*)?\)/.exec(ua);
  if (android) {
    const model = android[1]!.trim();
    // Chrome's reduced User-Agent hides the model behind "K".
    return model && model !== 'K' && !/^(?:Linux|U|wv|[a-z]{2}-[a-z]{2})$/i.test(model) ? model : 'Android phone';
  }
  if (/Android/.test(ua)) return 'Android phone';
  if (/CrOS/.test(ua)) return 'Chromebook';
  if (/Windows/.test(ua)) return 'Windows PC';
  if (/Macintosh/.test(ua)) return 'Mac';
  if (/Linux/.test(ua)) return 'Linux PC';
  return 'Web browser';
}

export function storedDeviceName(): string | null {
  try {
    return localStorage.getItem(KEY) ?? memory;
  } catch {
    return memory;
  }
}

export function deviceName(): string {
  return storedDeviceName() || guessDeviceName(navigator.userAgent, navigator.maxTouchPoints);
}

export function setDeviceName(name: string): void {
  const n = name.trim().slice(0, 64);
  memory = n || null;
  try {
    if (n) localStorage.setItem(KEY, n);
    else localStorage.removeItem(KEY);
  } catch {
    // storage blocked: `memory` keeps it for this visit
  }
}
