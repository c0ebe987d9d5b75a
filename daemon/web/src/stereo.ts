// What the stereo says about itself (/api/v1/status): its name, whether a PIN guards changes.
import { getJson, type Status } from './api';
import { Store } from './store';

export const stereo = new Store<Status | null>(null);

export async function loadStatus(): Promise<void> {
  try {
    const s = await getJson<Status>('/api/v1/status');
    stereo.set(s);
    document.title = `${s.name} · hifid`;
  } catch {
    // the views report the stereo as unreachable; the next change event retries
  }
}
