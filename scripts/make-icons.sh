#!/usr/bin/env bash
# Draws the UPnP device icons (a record on a dark rounded square) once; the results are committed
# under daemon/upnp/icons/. 48 and 120 px, PNG (with alpha) and JPEG, as DLNA devices ask for both.
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/daemon/upnp/icons"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
D='hypot(X-W/2\,Y-H/2)/W'                                   # distance from the centre, in widths
groove="10*lt(mod($D*200\,2)\,0.5)"                            # faint grooves on the disc
pick() { echo "if(lt($D\,0.012)\,$1\,if(lt($D\,0.13)\,$2\,if(lt($D\,0.44)\,$3+$groove\,$1)))"; } # hole, label, disc, background
R=$(pick 27 232 18) G=$(pick 35 163 18) B=$(pick 48 61 20)
A="if(gt(hypot(max(abs(X-W/2)-W*0.32\,0)\,max(abs(Y-H/2)-H*0.32\,0))\,W*0.18)\,0\,255)" # rounded square
ffmpeg -loglevel error -y -f lavfi -i "color=c=black:s=480x480,format=rgba" -frames:v 1 -vf "geq=r='$R':g='$G':b='$B':a='$A'" "$tmp/big.png"
for n in 48 120; do
  ffmpeg -loglevel error -y -i "$tmp/big.png" -vf "scale=$n:$n:flags=lanczos" -frames:v 1 -flags +bitexact "$out/icon-$n.png"
  # JPEG has no alpha: the background colour fills the corners.
  ffmpeg -loglevel error -y -i "$tmp/big.png" -vf "scale=$n:$n:flags=lanczos,format=rgb24,format=yuvj420p" -frames:v 1 -q:v 3 -flags +bitexact "$out/icon-$n.jpg"
done
ls -l "$out"
