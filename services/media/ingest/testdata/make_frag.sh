#!/usr/bin/env bash
# Regenerates the fragmented MP4 fixtures of the allowlist rebuild
# (rebuild_fragmented_test.go), beside make_movie.sh (same tools). The test
# plants more shapes into these by hand (unknown boxes in moof and traf,
# sidx, styp, emsg, udta).
#
#   frag.mp4         what browsers' MediaRecorder writes: an empty moov
#                    with mvex, a moof+mdat per key frame, default-base-is-moof;
#                    H.264, AAC, a tx3g track whose samples hold the position,
#                    udta/©xyz.
#   frag-nobase.mp4  the same without default-base-is-moof: each tfhd holds
#                    an absolute base data offset; mfra at the end.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '1\n00:00:00,000 --> 00:00:00,800\n+48.8584+002.2945/ GPS here\n' > "$tmp/s.srt"
av() { ffmpeg -hide_banner -loglevel error -f lavfi -i "color=c=blue:s=16x16:d=0.8:r=5" -f lavfi -i sine=f=440:d=0.8 \
       -i "$tmp/s.srt" -map 0 -map 1 -map 2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 2 \
       -c:a aac -b:a 16k -c:s mov_text -metadata location=+48.8584+002.2945/ "$@" -fflags +bitexact -y; }
av -movflags frag_keyframe+empty_moov+default_base_moof frag.mp4
av -movflags frag_keyframe+empty_moov frag-nobase.mp4
ls -l frag.mp4 frag-nobase.mp4
