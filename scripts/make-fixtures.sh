#!/usr/bin/env bash
# Build small, deterministic audio fixtures for the tests with ffmpeg.
#   usage: scripts/make-fixtures.sh [OUTDIR]   (default test/fixtures/generated)
# Idempotent: skipped when OUTDIR/.complete holds this script's sha256, so
# editing this script regenerates everything.
#
# Each audio file is a short sine at its own frequency (so no two files share
# bytes): 2 s stereo 44.1 kHz, except hires.flac (3 s 24-bit/96 kHz) and
# tone.wav/tone.aiff (mono 22.05 kHz). Tagged files share
#   artist="Test Artist" album_artist="Test Album Artist" album="Test Album"
#   disc=1/2 date=2024 genre=Electronic track=N/12 title="Tone N"
# with N per file below. Exceptions: tone-v1.mp3 holds only what ID3v1 can
# (no album_artist/disc, track=3); tone.wav only what RIFF INFO can (no
# album_artist/disc); truncated.flac is titled "Truncated"; unicode.flac has
# its own tags.
# Determinism: -map_metadata -1 drops anything inherited, +bitexact drops
# encoder version strings/timestamps/random Ogg serials. Bytes are stable
# across runs with the same ffmpeg build (Debian 12: ffmpeg 5.1), not across
# ffmpeg/codec-library versions.
set -euo pipefail
export LC_ALL=C

self=$(readlink -f "$0")
out=${1:-"$(dirname "$self")/../test/fixtures/generated"}
sum=$(sha256sum "$self" | cut -d' ' -f1)

if [ "$(cat "$out/.complete" 2>/dev/null)" = "$sum" ]; then
  echo "make-fixtures: $(cd "$out" && pwd) is up to date"
  exit 0
fi
command -v ffmpeg >/dev/null || { echo "make-fixtures: ffmpeg not found" >&2; exit 1; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
# Build in a private temp dir and move files in at the end, stamp last, so an
# interrupted run never leaves a stamped half-set (and concurrent runs, which
# produce identical bytes, don't trip over each other's partial files).
tmp=$(mktemp -d "$out/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
rm -f "$out/.complete"

ff() { ffmpeg -hide_banner -nostdin -loglevel error -y "$@"; }
BX=(-fflags +bitexact -flags:a +bitexact -flags:v +bitexact)
# mk OUT FREQ N [ffmpeg args...]: stereo sine at FREQ Hz tagged as track N/12
# (N=0: no tags). Env overrides: DUR (s), RATE (Hz), AMP, TITLE.
mk() {
  local out=$1 freq=$2 n=$3 tags=(-map_metadata -1); shift 3
  [ "$n" = 0 ] || tags+=(-metadata "title=${TITLE:-Tone $n}" -metadata "artist=Test Artist"
    -metadata "album_artist=Test Album Artist" -metadata "album=Test Album"
    -metadata "track=$n/12" -metadata "disc=1/2" -metadata "date=2024" -metadata "genre=Electronic")
  ff -f lavfi -i "aevalsrc=${AMP:-0.25}*sin(2*PI*$freq*t):s=${RATE:-44100}:d=${DUR:-2}:c=stereo" \
     "$@" "${tags[@]}" "${BX[@]}" "$out"
}
MP3=(-c:a libmp3lame -b:a 128k)
cd "$tmp"

# MP3: ID3v2.4 / ID3v2.3 / ID3v1-only / no tags at all.
mk tone.mp3      440 1 "${MP3[@]}" -id3v2_version 4
mk tone-v23.mp3  494 2 "${MP3[@]}" -id3v2_version 3
# ffmpeg's ID3v1 writer only looks up ID3v2 frame names (normally produced by
# its ID3v2 writer, which is off here), so pass the tags under those names.
mk tone-v1.mp3   523 0 "${MP3[@]}" -id3v2_version 0 -write_id3v1 1 \
   -metadata "TIT2=Tone 3" -metadata "TPE1=Test Artist" -metadata "TALB=Test Album" \
   -metadata TRCK=3/12 -metadata TDRC=2024 -metadata TCON=Electronic
mk untagged.mp3  554 0 "${MP3[@]}" -id3v2_version 0

# Lossless and other containers.
mk tone.flac     587 4 -c:a flac -sample_fmt s16
# Real 24-bit content (aevalsrc is double precision), kept quiet so the FLAC
# stays ~80 KB instead of ~740 KB.
DUR=3 RATE=96000 AMP=0.002 mk hires.flac 659 5 -c:a flac -sample_fmt s32 -compression_level 12
mk tone.m4a      698 6 -c:a aac -b:a 96k
mk tone-alac.m4a 740 7 -c:a alac -sample_fmt s16p  # else ffmpeg picks 24-bit
mk tone.ogg      784 8 -c:a libvorbis -q:a 2
mk tone.opus     831 9 -c:a libopus -b:a 64k
# PCM: mono 22.05 kHz keeps them ~90 KB. WAV tags go to a LIST/INFO chunk;
# AIFF gets an ID3v2.4 chunk (its native NAME/AUTH chunks can't hold albums).
RATE=22050 mk tone.wav  880 10 -ac 1 -c:a pcm_s16le
RATE=22050 mk tone.aiff 932 11 -ac 1 -c:a pcm_s16be -write_id3v2 1 -id3v2_version 4

# Cover art: a 300x300 JPEG, alone and embedded as an ID3v2.4 APIC front
# cover ("Cover (front)" -> picture type 3). The JPEG bytes are copied
# unchanged, so tests can compare the extracted picture with cover.jpg.
ff -f lavfi -i testsrc=s=300x300:r=1 -frames:v 1 -update 1 -pix_fmt yuvj420p -q:v 4 "${BX[@]}" cover.jpg
mk art.mp3 988 12 -i cover.jpg -map 0:a -map 1:v "${MP3[@]}" -c:v copy \
   -disposition:v attached_pic -metadata:s:v "title=Album cover" \
   -metadata:s:v "comment=Cover (front)" -id3v2_version 4

# Unicode/awkward tags: path separators, dots, XML specials, quotes, emoji,
# and a Windows reserved name as album.
ff -f lavfi -i "aevalsrc=0.25*sin(2*PI*1047*t):s=44100:d=2:c=stereo" -c:a flac -sample_fmt s16 \
   -map_metadata -1 -metadata 'title=雨/の../ 日 <&> "q" 🎵' -metadata 'artist=アーティスト' \
   -metadata 'album_artist=アーティスト' -metadata 'album=CON' -metadata 'track=1/1' \
   -metadata 'disc=1/1' -metadata 'date=2024' -metadata 'genre=Electronic' "${BX[@]}" unicode.flac

# Broken inputs.
printf 'These are not the tracks you are looking for.\n' > notes.txt
# 4096 pseudo-random bytes from a fixed seed: sha256 of a counter, 128 times.
# shellcheck disable=SC2001  # sed is clearer than ${h//} for this
for i in $(seq 0 127); do
  h=$(printf 'hifid-garbled-%d' "$i" | sha256sum | cut -c1-64)
  printf '%b' "$(sed 's/../\\x&/g' <<<"$h")"  # hex -> bytes
done > garbled.mp3
# First 40 % of a 10 s tagged FLAC: valid header and tags, audio cut mid-frame.
DUR=10 TITLE=Truncated mk full10.flac 1109 1 -c:a flac -sample_fmt s16
head -c $(( $(stat -c %s full10.flac) * 40 / 100 )) full10.flac > truncated.flac
rm full10.flac
# Only the ID3v2 tag of tone.mp3, no audio frames. ID3v2 header: "ID3", ver,
# rev, flags (0x10 = 10-byte footer present), 4-byte synchsafe size.
read -r f s0 s1 s2 s3 < <(od -An -tu1 -j5 -N5 tone.mp3)
len=$(( 10 + (s0 << 21 | s1 << 14 | s2 << 7 | s3) + (f & 0x10 ? 10 : 0) ))
head -c "$len" tone.mp3 > headeronly.mp3

n=0 bytes=0
for f in *; do n=$((n + 1)); bytes=$((bytes + $(stat -c %s "$f"))); done
mv -f -- * "$out"/
echo "$sum" > "$out/.complete"
echo "make-fixtures: $n files, $bytes bytes in $out"
