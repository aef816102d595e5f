#!/usr/bin/env bash
# Regenerates the thumbnail test fixtures in this folder. The tests only read
# the files, so nothing here is needed at test time.
#
# Needs: ImageMagick 6 (convert), exiftool (libimage-exiftool-perl),
# heif-enc (libheif-examples) and ffmpeg, all Debian packages.
#
# Every picture is built from four flat quadrants (top-left red, top-right
# lime, bottom-left blue, bottom-right white) so a test can tell from the
# thumbnail's corners which way the pixels were turned. Flat colours also keep
# the files small.
set -euo pipefail
cd "$(dirname "$0")"

for tool in convert exiftool heif-enc ffmpeg; do
  command -v "$tool" >/dev/null || { echo "gen.sh: $tool is missing" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# quad W H OUT: the four-quadrant picture at W x H (both even).
quad() {
  local w=$(($1 / 2)) h=$(($2 / 2))
  convert \( -size "${w}x${h}" xc:red xc:lime +append \) \
          \( -size "${w}x${h}" xc:blue xc:white +append \) -append "$3"
}

# JPEG: the same 40x20 pixels tagged with every EXIF orientation. The pixels
# are stored unturned; the tag tells a viewer how to turn them.
quad 40 20 "$tmp/quad-40x20.png"
for o in 1 2 3 4 5 6 7 8; do
  convert "$tmp/quad-40x20.png" -strip -quality 95 "orient-$o.jpg"
  exiftool -q -overwrite_original "-Orientation#=$o" "orient-$o.jpg"
done

# A JPEG larger than the biggest default size, stored sideways (orientation 6),
# to check downscaling and the swap of dimensions together.
quad 1600 1000 "$tmp/quad-1600x1000.png"
convert "$tmp/quad-1600x1000.png" -strip -quality 85 big-orient-6.jpg
exiftool -q -overwrite_original "-Orientation#=6" big-orient-6.jpg

# PNG with transparency: the top-left quadrant is fully transparent and must
# come out white (JPEG has no alpha; transparent black would show as black).
quad 700 350 "$tmp/quad-700x350.png"
convert "$tmp/quad-700x350.png" -alpha set -region 350x175+0+0 -alpha transparent \
  +region -strip -define png:exclude-chunks=date,time alpha.png

# Animated GIF: a red first frame then a blue one; the thumbnail is the first.
convert -delay 50 -size 400x200 xc:red xc:blue -loop 0 anim.gif

# WebP, lossy and lossless with alpha.
quad 640 360 "$tmp/quad-640x360.png"
convert "$tmp/quad-640x360.png" -strip -quality 60 lossy.webp
convert "$tmp/quad-700x350.png" -resize 100x50 -alpha set -region 50x25+0+0 -alpha transparent \
  +region -strip -define webp:lossless=true lossless-alpha.webp
# Animated WebP, which has no decoder here: dimensions only.
convert -delay 50 -size 40x20 xc:red xc:blue -loop 0 anim.webp

# HEIC, 400x200 (wider than the small size, so the converted picture is scaled).
# heif-enc 1.15 misreads palette PNGs, which ImageMagick writes for four
# colours: PNG24 forces 8-bit RGB.
quad 400 200 "PNG24:$tmp/quad-400x200.png"
heif-enc -q 40 -o photo.heic "$tmp/quad-400x200.png" >/dev/null

# Videos from ffmpeg's test pattern, 2 s at 10 frames a second, small and
# bit-exact so a rerun gives the same bytes.
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
exact=(-map_metadata -1 -fflags +bitexact -flags:v +bitexact)
# MP4 without +faststart: the moov box comes after mdat, as phones often write it.
ff -f lavfi -i testsrc=size=480x270:rate=10:duration=2 -c:v libx264 -preset veryslow -crf 38 \
   -pix_fmt yuv420p "${exact[@]}" clip.mp4
# QuickTime whose display matrix turns the 480x270 pixels a quarter turn, as a
# phone held upright writes it: a viewer (and the thumbnail) shows 270x480.
ff -i clip.mp4 -c copy -metadata:s:v:0 rotate=90 "${exact[@]}" -f mov clip-rotated.mov
# Shorter than the 1 s poster position: the first frame must be used instead.
ff -f lavfi -i testsrc=size=160x90:rate=10:duration=0.5 -c:v libx264 -crf 38 \
   -pix_fmt yuv420p "${exact[@]}" short.mp4
ff -f lavfi -i testsrc=size=320x240:rate=10:duration=2 -c:v libvpx -crf 40 -b:v 0 \
   "${exact[@]}" clip.webm
# 3GP, the same container from older phones.
ff -i clip.mp4 -c copy "${exact[@]}" -f 3gp clip.3gp
# Plain HEIF: the HEIC photo under the generic brands only (mif1, miaf).
printf 'mif1' | cat <(head -c 8 photo.heic) - <(tail -c +13 photo.heic | head -c 4) \
  <(printf 'mif1miaf') <(tail -c +25 photo.heic) > photo.heif

ls -l
