#!/usr/bin/env bash
# Regenerates the fixtures in this folder. Tests only read the results, so
# none of these tools is needed to run them. On Debian:
#   apt-get install -y imagemagick webp libheif-examples libimage-exiftool-perl ffmpeg
# Versions used for the committed files: ImageMagick 6.9.11, cwebp 1.2.4,
# libheif 1.15.1, ExifTool 12.57, FFmpeg 5.1.
#
# Every image is a 16x16 gradient so each file stays a few KB. The location
# written everywhere is the Eiffel Tower (48.8584 N, 2.2945 E); the tests
# look for those numbers after stripping.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# EXIF GPS plus the same position and a city in XMP, and orientation 6
# (rotate 90 CW) that stripping must keep.
gps=(-GPSLatitude=48.8584 -GPSLatitudeRef=N -GPSLongitude=2.2945 -GPSLongitudeRef=E
     -GPSAltitude=35 -GPSAltitudeRef=0 -Orientation#=6
     -XMP-exif:GPSLatitude=48.8584N -XMP-exif:GPSLongitude=2.2945E -XMP-photoshop:City=Paris)
tag() { exiftool -q -q -overwrite_original "${gps[@]}" "$@"; }

convert -size 16x16 gradient:red-blue -quality 60 "$tmp/src.jpg"
convert -size 16x16 gradient:red-blue +set date:create +set date:modify -define png:exclude-chunks=date,time "$tmp/src.png"

cp "$tmp/src.jpg" gps.jpg && tag -IPTC:City=Paris -IPTC:Country-PrimaryLocationName=France gps.jpg
cp "$tmp/src.png" gps.png && tag gps.png             # eXIf + iTXt XMP
# ImageMagick keeps EXIF as eXIf and XMP as a zTXt "Raw profile type xmp".
convert gps.jpg +set date:create +set date:modify -define png:exclude-chunks=date,time gps-im.png
cwebp -quiet -q 50 -metadata none "$tmp/src.png" -o gps.webp && tag gps.webp
heif-enc -q 30 "$tmp/src.png" -o gps.heic && tag gps.heic

# Videos: 16x16, one frame. ffmpeg writes "location" as 3GPP loci in MP4 and
# as udta/©xyz in MOV; with use_metadata_tags, as an Apple mdta key.
ff() { ffmpeg -hide_banner -loglevel error -f lavfi -i color=c=blue:s=16x16:d=0.2:r=5 \
       -frames:v 1 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -fflags +bitexact -map_metadata -1 "$@" -y; }
ff -metadata location=+48.8584+002.2945/ gps.mp4
ff -metadata location=+48.8584+002.2945/ gps.mov
ff -movflags use_metadata_tags -metadata com.apple.quicktime.location.ISO6709=+48.8584+002.2945+035.000/ gps-keys.mov
# XMP with GPS too: a uuid box in MP4, a udta/XMP_ atom in MOV.
exiftool -q -q -overwrite_original -XMP-exif:GPSLatitude=48.8584N -XMP-exif:GPSLongitude=2.2945E gps.mp4 gps.mov

# GIF can only hold XMP; WebM gets a Matroska LOCATION tag from ffmpeg.
convert -size 16x16 gradient:red-blue plain.gif
cp plain.gif gps.gif
exiftool -q -q -overwrite_original -XMP-exif:GPSLatitude=48.8584N -XMP-exif:GPSLongitude=2.2945E gps.gif
webm() { ffmpeg -hide_banner -loglevel error -f lavfi -i color=c=blue:s=16x16:d=0.2:r=5 -frames:v 1 \
  -c:v libvpx -b:v 10k -fflags +bitexact -map_metadata -1 "$@" -y; }
webm plain.webm
webm -metadata location=+48.8584+002.2945/ gps.webm

# When each was taken, for Inspect: EXIF DateTimeOriginal with and without
# an offset, an MP4 movie header, WebM's DateUTC. All name 07:30 UTC on
# 14 May 2026.
cp plain.jpg taken.jpg
exiftool -q -q -overwrite_original -DateTimeOriginal="2026:05:14 09:30:00" -OffsetTimeOriginal="+02:00" taken.jpg
cp gps.heic taken.heic && exiftool -q -q -overwrite_original -DateTimeOriginal="2026:05:14 07:30:00" taken.heic
ff -metadata creation_time=2026-05-14T07:30:00Z taken.mp4
webm -metadata creation_time=2026-05-14T07:30:00Z taken.webm

# A clean JPEG: stripping must report no change.
cp "$tmp/src.jpg" plain.jpg

ls -l
