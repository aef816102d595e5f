#!/usr/bin/env bash
# Regenerates the WebM fixtures of the allowlist rebuild (rebuild_webm_test.go).
# Like make.sh, tests only read the results. FFmpeg 5.1 (libvpx, libopus).
#
# hostile.webm carries the fixtures' location (the Eiffel Tower) everywhere a
# Matroska file can: the Title, a LOCATION tag, a track Name, a chapter
# title, an attached text file, a WebVTT subtitle track, and a copy of
# gps.webm (a second EBML header and Segment) appended after the Segment.
# ffmpeg's WebM muxer refuses attachments and chapters' company, so the file
# is written as Matroska and its DocType patched to "webm" (EBML strings may
# be padded with zero bytes); the codecs are WebM's: VP8, Opus, WebVTT.
# Two seconds with a keyframe every half second, so that it has Cues.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

where=+48.8584+002.2945/
printf '%s\n' "$where" > "$tmp/where.txt"
printf 'WEBVTT\n\n00:00.000 --> 00:01.500\nWe are at %s\n' "$where" > "$tmp/sub.vtt"
printf ';FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=At %s\n' "$where" > "$tmp/chap.txt"
ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc=s=16x16:d=2:r=10 -f lavfi -i sine=d=2:sample_rate=48000 \
  -i "$tmp/sub.vtt" -i "$tmp/chap.txt" -map 0 -map 1 -map 2 -map_chapters 3 \
  -c:v libvpx -b:v 20k -g 5 -c:a libopus -b:a 6k -c:s webvtt -fflags +bitexact -map_metadata -1 \
  -metadata title="$where" -metadata location="$where" -metadata:s:v:0 title="$where" \
  -metadata creation_time=2026-05-14T07:30:00Z \
  -attach "$tmp/where.txt" -metadata:s:t mimetype=text/plain -f matroska -y "$tmp/h.mkv"
python3 - "$tmp/h.mkv" hostile.webm <<'PY'
import sys
b = open(sys.argv[1], 'rb').read()
old = b'\x42\x82\x88matroska'
assert b.count(old) == 1
b = b.replace(old, b'\x42\x82\x88webm\0\0\0\0')
open(sys.argv[2], 'wb').write(b + open('gps.webm', 'rb').read())
PY

# live.webm: ffmpeg's live mode to a pipe writes the Segment with an unknown
# size, as browsers' MediaRecorder does (which also leaves clusters' sizes
# unknown: the tests craft that from hostile.webm), and a LOCATION tag.
ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc=s=16x16:d=2:r=10 -f lavfi -i sine=d=2:sample_rate=48000 \
  -c:v libvpx -b:v 20k -g 5 -c:a libopus -b:a 6k -fflags +bitexact -map_metadata -1 \
  -metadata location="$where" -live 1 -f webm - | cat > live.webm

# vorbis.webm: Vorbis audio, whose CodecPrivate carries a comment header
# (the encoder's vendor string and tags) that the rebuild empties.
ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc=s=16x16:d=0.5:r=10 -f lavfi -i sine=d=0.5 \
  -c:v libvpx -b:v 20k -c:a libvorbis -shortest -fflags +bitexact -map_metadata -1 vorbis.webm
ls -l hostile.webm live.webm vorbis.webm
