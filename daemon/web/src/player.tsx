// The now-playing bar: a native <audio> element (seek, volume and keyboard control come with it)
// playing the stereo's stream URL, with a queue so an album plays through.
import { useEffect, useRef, useState } from 'preact/hooks';
import { streamUrl, type Track } from './api';
import { Icon } from './icons';
import { Store, useStore } from './store';

interface Queue {
  tracks: Track[];
  index: number;
}

export const nowPlaying = new Store<Queue | null>(null);

export function play(tracks: Track[], index = 0): void {
  if (tracks[index]) nowPlaying.set({ tracks, index });
}

function step(by: number): void {
  const q = nowPlaying.get();
  if (q && q.tracks[q.index + by]) nowPlaying.set({ ...q, index: q.index + by });
}

export function PlayerBar() {
  const q = useStore(nowPlaying);
  const audio = useRef<HTMLAudioElement>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const track = q ? q.tracks[q.index] : undefined;
  useEffect(() => {
    setProblem(null);
    const a = audio.current;
    if (!a || !track) return;
    // play() after a tap is allowed everywhere; a refusal (format, autoplay rules) is shown, not thrown.
    a.play().catch((err: DOMException) => {
      if (err.name !== 'AbortError') setProblem(err.name === 'NotAllowedError' ? 'Tap play to start.' : 'This browser cannot play this format.');
    });
  }, [track?.id, q]);
  if (!q || !track) return null;
  return (
    <section class="player" aria-label="Now playing">
      <div class="player-info">
        <strong class="ellipsis">{track.title}</strong>
        <span class="ellipsis muted">{track.artist}</span>
        {problem && (
          <span class="player-problem" role="status">
            {problem}
          </span>
        )}
      </div>
      <div class="player-controls">
        <button type="button" class="icon" aria-label="Previous track" disabled={q.index === 0} onClick={() => step(-1)}>
          <Icon name="prev" />
        </button>
        <audio
          ref={audio}
          controls
          preload="metadata"
          src={streamUrl(track.id)}
          onEnded={() => step(1)}
          onError={() => setProblem('This browser cannot play this format.')}
          aria-label={`${track.title} by ${track.artist}`}
        />
        <button type="button" class="icon" aria-label="Next track" disabled={q.index >= q.tracks.length - 1} onClick={() => step(1)}>
          <Icon name="next" />
        </button>
        <button type="button" class="icon" aria-label="Close player" onClick={() => nowPlaying.set(null)}>
          <Icon name="close" />
        </button>
      </div>
    </section>
  );
}
