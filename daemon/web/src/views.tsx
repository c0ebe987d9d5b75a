// The library views: albums, artists → albums → tracks, recently added, pushed from which device,
// search results and one track's details. Each reloads when the library changes (live events).
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { artUrl, deleteTrack, getJson, HttpError, query, type Album, type AlbumWithTracks, type Device, type NamedCount, type Page, type Track } from './api';
import { askConfirm, askPin, currentPin, forgetPin } from './dialogs';
import { bytes, date, duration, plural } from './format';
import { Icon } from './icons';
import { changedHere, freshIds, libraryVersion } from './live';
import { nowPlaying, play } from './player';
import { pickFiles } from './push';
import { stereo } from './stereo';
import { useStore } from './store';

// ---- Data ----

interface Loaded<T> {
  data: T | null;
  error: Error | null;
}

/**
 * GETs `url` now and whenever the library changes (unless `follow` is false, e.g. while this very
 * item is being deleted); keeps showing the old data while reloading.
 */
export function useJson<T>(url: string | null, follow = true): Loaded<T> {
  const version = useStore(libraryVersion);
  const seen = useRef(version);
  if (follow) seen.current = version;
  const [state, setState] = useState<Loaded<T> & { url: string | null }>({ data: null, error: null, url });
  useEffect(() => {
    if (!url) return;
    const abort = new AbortController();
    getJson<T>(url, abort.signal).then(
      (data) => setState({ data, error: null, url }),
      (error: Error) => {
        if (error.name !== 'AbortError') setState((s) => ({ data: s.url === url ? s.data : null, error, url }));
      },
    );
    return () => abort.abort();
  }, [url, seen.current]);
  // A new URL (another view) must not show the previous view's data for a moment.
  return state.url === url ? state : { data: null, error: null };
}

// ---- Pieces ----

export function Heading({ children, sub }: { children: ComponentChildren; sub?: ComponentChildren }) {
  return (
    <div class="view-head">
      {/* Focused on navigation so screen readers announce the new view (see App). */}
      <h1 id="view-title" tabIndex={-1}>
        {children}
      </h1>
      {sub && <p class="muted">{sub}</p>}
    </div>
  );
}

function Status({ loaded, empty, children }: { loaded: Loaded<unknown>; empty?: boolean; children?: ComponentChildren }) {
  if (loaded.error) {
    const e = loaded.error;
    return (
      <p class="notice error" role="alert">
        {e instanceof HttpError && e.status === 404 ? 'Not found: it may have been deleted.' : `The stereo did not answer (${e.message}).`}
      </p>
    );
  }
  if (!loaded.data) return <p class="notice muted" aria-busy="true">Loading…</p>;
  if (empty) return <div class="notice">{children}</div>;
  return null;
}

function EmptyLibrary() {
  return (
    <>
      <p>No music here yet.</p>
      <p>
        <button type="button" class="primary" onClick={pickFiles}>
          Push songs from this device
        </button>
      </p>
    </>
  );
}

function Cover({ url, label, size }: { url: string | null; label: string; size: 'small' | 'large' }) {
  const [failed, setFailed] = useState(false);
  useEffect(() => setFailed(false), [url]);
  if (!url || failed) {
    return (
      <div class={`cover none ${size}`} aria-hidden="true">
        <span>{(label.trim()[0] ?? '♪').toUpperCase()}</span>
      </div>
    );
  }
  return <img class={`cover ${size}`} src={url} alt="" loading="lazy" decoding="async" onError={() => setFailed(true)} />;
}

function AlbumGrid({ albums }: { albums: Album[] }) {
  return (
    <ul class="album-grid">
      {albums.map((a) => (
        <li key={a.id}>
          <a class="album-card" href={`#/album/${encodeURIComponent(a.id)}`}>
            <Cover url={a.artUrl} label={a.title} size="small" />
            <span class="album-title ellipsis">{a.title}</span>
            <span class="album-artist ellipsis muted">
              {a.albumArtist}
              {a.year ? ` · ${a.year}` : ''}
            </span>
          </a>
        </li>
      ))}
    </ul>
  );
}

export function TrackList({ tracks, show = 'artist-album', numbers = false }: { tracks: Track[]; show?: 'artist' | 'artist-album' | 'added'; numbers?: boolean }) {
  const fresh = useStore(freshIds);
  const playing = useStore(nowPlaying);
  const current = playing ? playing.tracks[playing.index]?.id : undefined;
  return (
    <ol class="track-list">
      {tracks.map((t, i) => (
        <li key={t.id} class={`${fresh.has(t.id) ? 'fresh' : ''} ${current === t.id ? 'playing' : ''}`} data-track-id={t.id}>
          <button type="button" class="icon play" aria-label={`Play ${t.title}`} aria-pressed={current === t.id} onClick={() => play(tracks, i)}>
            <Icon name="play" />
          </button>
          <a class="track-link" href={`#/track/${encodeURIComponent(t.id)}`}>
            <span class="track-title ellipsis">
              {numbers && t.trackNumber ? <span class="muted">{t.trackNumber}. </span> : null}
              {t.title}
            </span>
            <span class="track-sub ellipsis muted">
              {show === 'artist' ? t.artist : show === 'added' ? `${t.artist} · ${date(t.addedAt)}` : `${t.artist} · ${t.album}`}
            </span>
          </a>
          <span class="track-time muted">{duration(t.durationMs)}</span>
        </li>
      ))}
    </ol>
  );
}

function MoreButton({ shown, total, onMore }: { shown: number; total: number; onMore: () => void }) {
  if (shown >= total) return null;
  return (
    <p class="more">
      <button type="button" onClick={onMore}>
        Show more ({total - shown} left)
      </button>
    </p>
  );
}

// ---- Views ----

const ALBUM_PAGE = 120;
const TRACK_PAGE = 100;

export function AlbumsView() {
  const [limit, setLimit] = useState(ALBUM_PAGE);
  const loaded = useJson<Page<Album>>(`/api/v1/albums${query({ limit })}`);
  const d = loaded.data;
  return (
    <>
      <Heading sub={d ? plural(d.total, 'album') : undefined}>Albums</Heading>
      <Status loaded={loaded} empty={d?.total === 0}>
        <EmptyLibrary />
      </Status>
      {d && <AlbumGrid albums={d.items} />}
      {d && <MoreButton shown={d.items.length} total={d.total} onMore={() => setLimit(limit + ALBUM_PAGE)} />}
    </>
  );
}

export function ArtistsView() {
  const loaded = useJson<{ items: NamedCount[] }>('/api/v1/artists?kind=album');
  const items = loaded.data?.items;
  return (
    <>
      <Heading sub={items ? plural(items.length, 'artist') : undefined}>Artists</Heading>
      <Status loaded={loaded} empty={items?.length === 0}>
        <EmptyLibrary />
      </Status>
      {items && (
        <ul class="name-list">
          {items.map((a) => (
            <li key={a.name}>
              <a href={`#/artist/${encodeURIComponent(a.name)}`}>
                <span class="ellipsis">{a.name}</span>
                <span class="muted">
                  {plural(a.albumCount, 'album')}, {plural(a.trackCount, 'track')}
                </span>
              </a>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

export function ArtistView({ name }: { name: string }) {
  const loaded = useJson<Page<Album>>(`/api/v1/albums${query({ albumArtist: name })}`);
  const d = loaded.data;
  return (
    <>
      <p class="crumbs">
        <a href="#/artists">Artists</a>
      </p>
      <Heading sub={d ? plural(d.total, 'album') : undefined}>{name}</Heading>
      <Status loaded={loaded} empty={d?.total === 0}>
        <p>Nothing by {name} any more.</p>
      </Status>
      {d && <AlbumGrid albums={d.items} />}
    </>
  );
}

export function AlbumView({ id }: { id: string }) {
  const loaded = useJson<AlbumWithTracks>(`/api/v1/albums/${encodeURIComponent(id)}`);
  const a = loaded.data;
  const total = a ? a.tracks.reduce((n, t) => n + t.durationMs, 0) : 0;
  return (
    <>
      <p class="crumbs">
        <a href="#/albums">Albums</a>
        {a && (
          <>
            {' › '}
            <a href={`#/artist/${encodeURIComponent(a.albumArtist)}`}>{a.albumArtist}</a>
          </>
        )}
      </p>
      <Status loaded={loaded} />
      {a && (
        <>
          <div class="album-head">
            <Cover url={a.artUrl} label={a.title} size="large" />
            <div>
              <Heading sub={[a.albumArtist, a.year, a.genre, plural(a.tracks.length, 'track'), duration(total)].filter(Boolean).join(' · ')}>{a.title}</Heading>
              <button type="button" class="primary" onClick={() => play(a.tracks, 0)}>
                <Icon name="play" /> Play album
              </button>
            </div>
          </div>
          <TrackList tracks={a.tracks} show="artist" numbers />
        </>
      )}
    </>
  );
}

function TrackPage({ title, sub, url, show, empty }: { title: string; sub: (total: number) => string; url: (limit: number) => string; show: 'artist-album' | 'added'; empty: ComponentChildren }) {
  const [limit, setLimit] = useState(TRACK_PAGE);
  const loaded = useJson<Page<Track>>(url(limit));
  const d = loaded.data;
  return (
    <>
      <Heading sub={d ? sub(d.total) : undefined}>{title}</Heading>
      <Status loaded={loaded} empty={d?.total === 0}>
        {empty}
      </Status>
      {d && d.items.length > 0 && <TrackList tracks={d.items} show={show} />}
      {d && <MoreButton shown={d.items.length} total={d.total} onMore={() => setLimit(limit + TRACK_PAGE)} />}
    </>
  );
}

export function RecentView() {
  return <TrackPage title="Recently added" sub={(n) => plural(n, 'track')} url={(limit) => `/api/v1/tracks${query({ sort: '-added', limit })}`} show="added" empty={<EmptyLibrary />} />;
}

export function DevicesView() {
  const loaded = useJson<{ items: Device[] }>('/api/v1/devices');
  const items = loaded.data?.items;
  return (
    <>
      <Heading sub="Which phone pushed what">Pushed from</Heading>
      <Status loaded={loaded} empty={items?.length === 0}>
        <p>Nothing has been pushed yet.</p>
      </Status>
      {items && (
        <ul class="name-list">
          {items.map((d) => (
            <li key={d.name}>
              <a href={`#/device/${encodeURIComponent(d.name)}`}>
                <span class="ellipsis">{d.name}</span>
                <span class="muted">
                  {plural(d.trackCount, 'track')}, last {date(d.lastAddedAt)}
                </span>
              </a>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

export function DeviceView({ name }: { name: string }) {
  return (
    <>
      <p class="crumbs">
        <a href="#/devices">Pushed from</a>
      </p>
      <TrackPage title={name} sub={(n) => `${plural(n, 'track')} pushed from ${name}`} url={(limit) => `/api/v1/tracks${query({ device: name, sort: '-added', limit })}`} show="added" empty={<p>Nothing from {name} any more.</p>} />
    </>
  );
}

export function SearchView({ q }: { q: string }) {
  const loaded = useJson<Page<Track>>(`/api/v1/tracks${query({ q, limit: 100 })}`);
  const d = loaded.data;
  return (
    <>
      <Heading sub={d ? (d.total > d.items.length ? `${d.items.length} of ${d.total} tracks` : plural(d.total, 'track')) : undefined}>Search: “{q}”</Heading>
      <p class="sr-only" role="status">
        {d ? `${plural(d.total, 'track')} found` : ''}
      </p>
      <Status loaded={loaded} empty={d?.total === 0}>
        <p>No track matches “{q}”.</p>
      </Status>
      {d && d.items.length > 0 && <TrackList tracks={d.items} />}
    </>
  );
}

function describeFormat(t: Track): string {
  const parts = [t.codec.toUpperCase()];
  if (t.sampleRate) parts.push(`${(t.sampleRate / 1000).toFixed(t.sampleRate % 1000 ? 1 : 0)} kHz`);
  if (t.bitsPerSample) parts.push(`${t.bitsPerSample}-bit`);
  if (t.channels) parts.push(t.channels === 1 ? 'mono' : t.channels === 2 ? 'stereo' : `${t.channels} channels`);
  if (t.bitrate) parts.push(`${Math.round(t.bitrate / 1000)} kbit/s`);
  return parts.join(', ');
}

export function TrackView({ id }: { id: string }) {
  const [deleting, setDeleting] = useState(false);
  const loaded = useJson<Track>(`/api/v1/tracks/${encodeURIComponent(id)}`, !deleting);
  const t = loaded.data;
  // Tracks do not carry their album's id: find the album among its album artist's (a short list).
  const albums = useJson<Page<Album>>(t ? `/api/v1/albums${query({ albumArtist: t.albumArtist })}` : null);
  const album = t ? albums.data?.items.find((a) => fold(a.title) === fold(t.album)) : undefined;
  const albumHref = album ? `#/album/${encodeURIComponent(album.id)}` : '#/albums';
  const s = useStore(stereo);
  const [problem, setProblem] = useState<string | null>(null);
  const mounted = useRef(true);
  useEffect(
    () => () => {
      mounted.current = false;
    },
    [],
  );

  const remove = async (track: Track) => {
    setProblem(null);
    if (!(await askConfirm('Delete this track?', `“${track.title}” by ${track.artist} will be deleted from the stereo's disk.`, 'Delete'))) return;
    let pin = currentPin();
    if (!pin && s?.pinRequired) pin = await askPin('Deleting needs the stereo’s PIN.');
    if (s?.pinRequired && !pin) return;
    setDeleting(true);
    for (;;) {
      try {
        await deleteTrack(track.id, pin);
        const q = nowPlaying.get();
        if (q?.tracks[q.index]?.id === track.id) nowPlaying.set(null);
        changedHere();
        // Back to the album, unless this was its last track.
        location.hash = album && album.trackCount > 1 ? albumHref : '#/albums';
        return;
      } catch (err) {
        const e = err as HttpError;
        if (e.status === 401 || (e.status === 403 && e.code === 'wrong_pin')) {
          forgetPin();
          pin = await askPin(e.status === 401 ? 'Deleting needs the stereo’s PIN.' : 'That PIN was wrong. Try again.');
          if (pin) continue;
        }
        if (mounted.current) {
          setProblem(e.status === 401 ? 'Not deleted: the PIN is needed.' : e.status === 403 && e.code === 'read_only' ? 'Tracks in music folders are read-only: hifid never deletes them.' : `Not deleted: ${e.message}`);
          setDeleting(false);
        }
        return;
      }
    }
  };

  return (
    <>
      {t && (
        <p class="crumbs">
          <a href={`#/artist/${encodeURIComponent(t.albumArtist)}`}>{t.albumArtist}</a>
          {' › '}
          <a href={albumHref}>{t.album}</a>
        </p>
      )}
      <Status loaded={loaded} />
      {t && (
        <article class="track-detail">
          <Cover url={t.hasArt ? artUrl(t.id) : null} label={t.album} size="large" />
          <div>
            <Heading sub={t.artist}>{t.title}</Heading>
            <p class="actions">
              <button type="button" class="primary" onClick={() => play([t], 0)}>
                <Icon name="play" /> Play
              </button>
              <button type="button" class="danger" disabled={deleting || t.source.kind === 'folder'} onClick={() => void remove(t)}>
                {deleting ? 'Deleting…' : 'Delete'}
              </button>
            </p>
            {t.source.kind === 'folder' && <p class="muted">In a music folder: read-only.</p>}
            {problem && (
              <p class="notice error" role="alert">
                {problem}
              </p>
            )}
            <dl class="facts">
              <dt>Album</dt>
              <dd>
                <a href={albumHref}>{t.album}</a>
                {t.trackNumber ? ` · track ${t.trackNumber}${t.discNumber ? `, disc ${t.discNumber}` : ''}` : ''}
              </dd>
              <dt>Album artist</dt>
              <dd>{t.albumArtist}</dd>
              {t.year && (
                <>
                  <dt>Year</dt>
                  <dd>{t.year}</dd>
                </>
              )}
              {t.genre && (
                <>
                  <dt>Genre</dt>
                  <dd>{t.genre}</dd>
                </>
              )}
              <dt>Length</dt>
              <dd>{duration(t.durationMs)}</dd>
              <dt>Format</dt>
              <dd>{describeFormat(t)}</dd>
              <dt>Size</dt>
              <dd>{bytes(t.size)}</dd>
              <dt>Added</dt>
              <dd>{date(t.addedAt)}</dd>
              <dt>From</dt>
              <dd>{t.source.kind === 'push' && t.source.device ? <a href={`#/device/${encodeURIComponent(t.source.device)}`}>{t.source.device}</a> : 'a music folder'}</dd>
            </dl>
          </div>
        </article>
      )}
    </>
  );
}

/** The same folding the stereo uses to match names: no accents, no case. */
function fold(s: string): string {
  return s.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
}
