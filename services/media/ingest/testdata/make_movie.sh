#!/usr/bin/env bash
# Regenerates the movie fixtures of the allowlist rebuild (rebuild_movie_test.go),
# beside make.sh (same tools and versions). The test plants more shapes into
# these by hand: trak and mdia udta, Apple mdta keys, unknown atoms, a GoPro
# gpmd, camm or mebx track (the subtitle track renamed), trailing bytes.
#
#   shapes.mov  QuickTime: H.264, AAC (a version 1 sound description with
#               wave), a text track whose sample holds the position, a tmcd
#               track, udta/©xyz, udta/XMP_; moov after mdat.
#   shapes.mp4  MP4, faststart (moov first): the same streams as tx3g, 3GPP
#               loci, and exiftool's XMP uuid box between moov and mdat.
#   gps.3gp     3GP: H.263 and AAC, loci, XMP.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '1\n00:00:00,000 --> 00:00:00,800\n+48.8584+002.2945/ GPS here\n' > "$tmp/s.srt"
loc=(-metadata location=+48.8584+002.2945/)
av() { ffmpeg -hide_banner -loglevel error -f lavfi -i "color=c=blue:s=$1:d=0.8:r=5" -f lavfi -i sine=f=440:d=0.8 \
       "${@:2}" -fflags +bitexact -map_metadata -1 -y; }
av 16x16 -i "$tmp/s.srt" -map 0 -map 1 -map 2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p \
   -c:a aac -b:a 16k -c:s mov_text -timecode 01:00:00:00 "${loc[@]}" shapes.mov
av 16x16 -i "$tmp/s.srt" -map 0 -map 1 -map 2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p \
   -c:a aac -b:a 16k -c:s mov_text -movflags +faststart "${loc[@]}" shapes.mp4
av 128x96 -c:v h263 -c:a aac -b:a 16k -ar 16000 -ac 1 "${loc[@]}" -f 3gp gps.3gp
exiftool -q -q -overwrite_original -XMP-exif:GPSLatitude=48.8584N -XMP-exif:GPSLongitude=2.2945E \
  shapes.mov shapes.mp4 gps.3gp
ls -l shapes.mov shapes.mp4 gps.3gp
