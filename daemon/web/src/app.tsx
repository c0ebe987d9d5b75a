// The page: header (stereo name, search, push), view tabs, the current view, pushes and the player.
// Views are `#/…` fragments so the stereo serves one page and the back button works.
import { useEffect, useRef, useState } from 'preact/hooks';
import { Dialogs } from './dialogs';
import { Icon } from './icons';
import { libraryVersion, liveState, startLive } from './live';
import { PlayerBar } from './player';
import { DropZone, FilePicker, PushPanel, pickFiles } from './push';
import { loadStatus, stereo } from './stereo';
import { useStore } from './store';
import { AlbumsView, AlbumView, ArtistsView, ArtistView, DevicesView, DeviceView, RecentView, SearchView, TrackView } from './views';

type Route =
  | { view: 'albums' }
  | { view: 'artists' }
  | { view: 'artist'; name: string }
  | { view: 'album'; id: string }
  | { view: 'track'; id: string }
  | { view: 'recent' }
  | { view: 'devices' }
  | { view: 'device'; name: string };

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function parseRoute(hash: string): Route {
  const [, view = '', ...rest] = hash.replace(/^#/, '').split('/');
  const arg = decode(rest.join('/'));
  switch (view) {
    case 'artists':
      return { view: 'artists' };
    case 'artist':
      return arg ? { view: 'artist', name: arg } : { view: 'artists' };
    case 'album':
      return arg ? { view: 'album', id: arg } : { view: 'albums' };
    case 'track':
      return arg ? { view: 'track', id: arg } : { view: 'albums' };
    case 'recent':
      return { view: 'recent' };
    case 'devices':
      return { view: 'devices' };
    case 'device':
      return arg ? { view: 'device', name: arg } : { view: 'devices' };
    default:
      return { view: 'albums' };
  }
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash;
}

const TABS: Array<{ href: string; label: string; views: Route['view'][] }> = [
  { href: '#/albums', label: 'Albums', views: ['albums', 'album', 'track'] },
  { href: '#/artists', label: 'Artists', views: ['artists', 'artist'] },
  { href: '#/recent', label: 'Recent', views: ['recent'] },
  { href: '#/devices', label: 'Pushed from', views: ['devices', 'device'] },
];

function View({ route }: { route: Route }) {
  switch (route.view) {
    case 'albums':
      return <AlbumsView />;
    case 'artists':
      return <ArtistsView />;
    case 'artist':
      return <ArtistView name={route.name} />;
    case 'album':
      return <AlbumView id={route.id} />;
    case 'track':
      return <TrackView id={route.id} />;
    case 'recent':
      return <RecentView />;
    case 'devices':
      return <DevicesView />;
    case 'device':
      return <DeviceView name={route.name} />;
  }
}

/** Search as you type: the query settles for a moment before it is sent. */
function useDebounced(value: string, ms: number): string {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return value === '' ? '' : v;
}

export function App() {
  const hash = useHash();
  const route = parseRoute(hash);
  const s = useStore(stereo);
  const live = useStore(liveState);
  const version = useStore(libraryVersion);
  const [typed, setTyped] = useState('');
  const q = useDebounced(typed.trim(), 150);
  const search = useRef<HTMLInputElement>(null);
  const first = useRef(true);

  // The track count in the footer follows the library.
  useEffect(() => {
    void loadStatus();
  }, [version]);

  useEffect(() => {
    startLive();
    // "/" jumps to search, as on many sites; not while typing in a field.
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (e.key === '/' && !e.ctrlKey && !e.metaKey && !e.altKey && !(t && /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) {
        e.preventDefault();
        search.current?.focus();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  // Following a link ends a search; the new view's heading takes focus so it is announced.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    setTyped('');
    window.scrollTo(0, 0);
    requestAnimationFrame(() => document.getElementById('view-title')?.focus());
  }, [hash]);

  return (
    <>
      <a class="skip sr-only-focusable" href="#main">
        Skip to the library
      </a>
      <header class="top">
        <div class="top-row">
          <a class="brand ellipsis" href="#/albums" aria-label={`${s?.name ?? 'hifid'}: home`}>
            <img src="/favicon.svg" alt="" width="28" height="28" />
            <span class="ellipsis">{s?.name ?? 'hifid'}</span>
          </a>
          <span class={`live-dot ${live}`} role="img" aria-label={live === 'live' ? 'Live: updates appear by themselves' : live === 'connecting' ? 'Connecting to the stereo' : 'Offline: reload to update'} title={live} />
          <button type="button" class="primary push-button" onClick={pickFiles}>
            <Icon name="push" /> Push songs
          </button>
        </div>
        <form class="search" role="search" onSubmit={(e) => e.preventDefault()}>
          <label for="search-input" class="sr-only">
            Search titles, artists, albums and genres
          </label>
          <input
            ref={search}
            id="search-input"
            type="search"
            placeholder="Search the library"
            autoComplete="off"
            enterKeyHint="search"
            value={typed}
            onInput={(e) => setTyped(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Escape') setTyped('');
            }}
          />
        </form>
        <nav aria-label="Library views">
          <ul class="tabs">
            {TABS.map((t) => {
              const current = !q && t.views.includes(route.view);
              return (
                <li key={t.href}>
                  <a href={t.href} aria-current={current ? 'page' : undefined} onClick={() => setTyped('')}>
                    {t.label}
                  </a>
                </li>
              );
            })}
          </ul>
        </nav>
      </header>
      <FilePicker />
      <DropZone />
      <main id="main" tabIndex={-1}>
        <PushPanel />
        {q ? <SearchView q={q} /> : <View route={route} />}
      </main>
      <footer class="foot muted">
        {s ? `${s.name} · hifid ${s.version} · ${s.tracks} tracks` : 'hifid'}
      </footer>
      <PlayerBar />
      <Dialogs />
    </>
  );
}
