// Icons drawn inline: symbol characters (⏮ ▶) render as coloured emoji on some phones and as empty
// boxes where no font has them. Decorative: the button around each icon carries the label.
const paths = {
  play: 'M8 5v14l11-7z',
  prev: 'M6 6h2v12H6zm3.5 6 8.5 6V6z',
  next: 'M6 18l8.5-6L6 6zm10-12h2v12h-2z',
  close: 'M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 19 19 17.59 13.41 12z',
  push: 'M5 4h14v2H5zm0 10h4v6h6v-6h4l-7-7z',
} as const;

export function Icon({ name }: { name: keyof typeof paths }) {
  return (
    <svg class="svg-icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
      <path d={paths[name]} fill="currentColor" />
    </svg>
  );
}
