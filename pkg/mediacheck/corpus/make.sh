#!/usr/bin/env bash
# Regenerates files/ and manifest.json: the adversarial corpus of location
# shapes (see doc.go). Tests only read the results, so none of these tools is
# needed to run them. On Debian:
#   apt-get install -y imagemagick webp libheif-examples libimage-exiftool-perl ffmpeg
# Versions used for the committed files: ImageMagick 6.9.11-60, cwebp/img2webp
# 1.2.4, libheif 1.15.1, ExifTool 12.57, FFmpeg 5.1.9, Go 1.26.
#
# The tools write clean base files and the "ordinary" shapes they know how to
# write; internal/gen builds every hand-made shape from the bases, copies the
# tool-made ones, and writes the manifest. The position planted everywhere is
# the Eiffel Tower (48.8584 N, 2.2945 E, "+48.8584+002.2945/"), with Paris and
# France as place names.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
iso=+48.8584+002.2945/

# Clean 16x16 bases, no metadata and no dates. Everything is bit-exact from
# run to run except heif-enc: x265's output differs slightly each time, so the
# HEIC files change when regenerated (restore them with git if untouched).
im=(+set date:create +set date:modify -define png:exclude-chunks=date,time)
convert -size 16x16 gradient:red-blue -strip -quality 60 "$tmp/base.jpg"
convert -size 16x16 gradient:red-blue -strip -quality 60 -interlace Plane "$tmp/base-prog.jpg"
convert -size 16x16 gradient:red-blue -strip "${im[@]}" "$tmp/base.png"
convert -size 16x16 gradient:blue-red -strip "${im[@]}" "$tmp/base2.png"
convert -size 16x16 gradient:red-blue -strip "$tmp/base.gif"
cwebp -quiet -q 50 -metadata none "$tmp/base.png" -o "$tmp/base.webp"
cwebp -quiet -lossless -metadata none "$tmp/base.png" -o "$tmp/base-lossless.webp"
img2webp -lossy -q 30 -loop 0 -d 100 "$tmp/base.png" "$tmp/base2.png" -o "$tmp/base-anim.webp" 2>/dev/null
heif-enc -q 30 "$tmp/base.png" -o "$tmp/base.heic" >/dev/null

# Videos: 16x16, one frame, bit-exact muxing, no metadata but what is asked.
src=(-f lavfi -i color=c=blue:s=16x16:d=0.2:r=5)
ff() { ffmpeg -hide_banner -loglevel error "${src[@]}" -frames:v 1 -c:v libx264 -preset ultrafast \
       -pix_fmt yuv420p -fflags +bitexact -map_metadata -1 "$@" -y; }
# webm [extra inputs and options...] output
webm() { local out=${*: -1}; set -- "${@:1:$#-1}"
         ffmpeg -hide_banner -loglevel error "${src[@]}" "$@" -frames:v 1 -c:v libvpx -b:v 10k \
         -fflags +bitexact -map_metadata -1 -y "$out"; }
ff "$tmp/base.mp4"
ff "$tmp/base.mov"
webm "$tmp/base.webm"

# Tool-written ordinary shapes (copied as they are by internal/gen).
gps=(-GPSLatitude=48.8584 -GPSLatitudeRef=N -GPSLongitude=2.2945 -GPSLongitudeRef=E)
xmpgps=(-XMP-exif:GPSLatitude=48.8584N -XMP-exif:GPSLongitude=2.2945E -XMP-photoshop:City=Paris)
tag() { exiftool -q -q -overwrite_original "$@"; }
cp "$tmp/base.jpg" "$tmp/jpeg-ordinary.jpg"
tag "${gps[@]}" "${xmpgps[@]}" -IPTC:City=Paris -IPTC:Country-PrimaryLocationName=France "$tmp/jpeg-ordinary.jpg"
cp "$tmp/base.png" "$tmp/png-ordinary.png" && tag "${gps[@]}" "${xmpgps[@]}" "$tmp/png-ordinary.png"
cp "$tmp/base.webp" "$tmp/webp-ordinary.webp" && tag "${gps[@]}" "${xmpgps[@]}" "$tmp/webp-ordinary.webp"
cp "$tmp/base.gif" "$tmp/gif-xmp.gif" && tag "${xmpgps[@]}" "$tmp/gif-xmp.gif"
cp "$tmp/base.heic" "$tmp/heic-ordinary.heic" && tag "${gps[@]}" "${xmpgps[@]}" "$tmp/heic-ordinary.heic"
ff -metadata location=$iso "$tmp/mp4-loci.mp4"
ff -metadata location=$iso -movflags +faststart "$tmp/mp4-loci-moov-first.mp4"
ff -metadata location=$iso "$tmp/mov-xyz.mov"
ff -metadata location=$iso "$tmp/3gp-loci.3gp"
ff -movflags use_metadata_tags -metadata com.apple.quicktime.location.ISO6709=+48.8584+002.2945+035.000/ "$tmp/mov-keys.mov"
ff -movflags use_metadata_tags -metadata com.apple.quicktime.location.ISO6709=+48.8584+002.2945+035.000/ "$tmp/mp4-keys.mp4"
cp "$tmp/base.mp4" "$tmp/mp4-xmp-uuid.mp4" && tag "${xmpgps[@]}" "$tmp/mp4-xmp-uuid.mp4"
cp "$tmp/base.mov" "$tmp/mov-xmp.mov" && tag "${xmpgps[@]}" "$tmp/mov-xmp.mov"
webm -metadata location="$iso KBLOC-webm-tags" "$tmp/webm-tags.webm"
webm -metadata:s:v:0 location="$iso KBLOC-webm-track-tags" "$tmp/webm-track-tags.webm"
webm -metadata title="$iso KBLOC-webm-title" "$tmp/webm-title.webm"
# Not seekable: the Segment gets an unknown size (internal/gen also makes the
# Cluster's size unknown).
webm -metadata location="$iso KBLOC-webm-live" -f webm pipe:1 >"$tmp/base-live.webm"
printf 'WEBVTT\n\n00:00.000 --> 00:00.200\nKBLOC-webm-subtitle %s Paris, France\n' "$iso" >"$tmp/sub.vtt"
# Two frames: with -frames:v 1 ffmpeg stops before it muxes the cue.
ffmpeg -hide_banner -loglevel error -f lavfi -i color=c=blue:s=16x16:d=0.4:r=5 -i "$tmp/sub.vtt" \
  -map 0:v -map 1:s -c:v libvpx -b:v 10k -c:s webvtt -fflags +bitexact -map_metadata -1 -y "$tmp/webm-subtitle.webm"

rm -rf files
go run ./internal/gen -in "$tmp" -out .
ls -l files | awk '{s+=$5} END {print NR-1, "files,", s, "bytes"}'
