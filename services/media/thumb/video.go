package thumb

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// maxMoov bounds the MP4 'moov' box read into memory: its sample tables
// grow with the length of the video, to about 10 MB for two hours at 60
// frames a second.
const maxMoov = 64 << 20

// maxPoster bounds the JPEG ffmpeg may write for a poster frame; an 8K
// frame at -q:v 2 is about 15 MB.
const maxPoster = 64 << 20

// posterAt is where the poster frame is taken: the first frame of a phone
// video is often black or blurred by the camera starting up.
const posterAt = time.Second

// demuxers maps a video type to ffmpeg's demuxer. Naming it, rather than
// letting ffmpeg probe the content, keeps a crafted upload from being read
// as a playlist or another format that opens further files or URLs; the
// protocol whitelist ("file" only) closes that door a second time.
var demuxers = map[string]string{
	TypeMP4:       "mov",
	Type3GP:       "mov",
	TypeQuickTime: "mov",
	TypeWebM:      "matroska",
}

// video learns duration and dimensions (ffprobe, else the MP4 index read in
// Go) and, with ffmpeg, thumbnails a poster frame.
func (j *job) video() (Result, error) {
	tools := j.opt.tools
	res := Result{Thumbs: map[string][]byte{}}

	var in string
	var haveIn bool
	if tools.FFprobe != "" || (tools.FFmpeg != "" && len(j.sizes) > 0) {
		var err error
		if in, haveIn, err = j.inputPath(); err != nil {
			return Result{}, err
		}
	}

	hasPicture := true
	if tools.FFprobe != "" && haveIn {
		p, err := j.probe(in)
		if err != nil {
			return Result{}, err
		}
		res.Width, res.Height, res.Duration, hasPicture = p.width, p.height, p.duration, p.hasVideo
	} else if j.contentType != TypeWebM {
		// Best effort: without ffprobe there is no other judge of the
		// file, so a container this reader does not follow (fragmented,
		// unusual) just leaves the fields unknown.
		if w, h, d, err := mp4Info(j.r, j.size); err == nil {
			res.Width, res.Height, res.Duration = w, h, d
		}
	}
	if res.Width > 0 && res.Height > 0 {
		// ffmpeg would allocate whatever frame size the stream declares.
		if err := j.lim.check(res.Width, res.Height); err != nil {
			return Result{}, err
		}
	}
	if tools.FFmpeg == "" || !haveIn || !hasPicture || len(j.sizes) == 0 {
		return res, nil
	}

	poster, err := j.poster(in, res.Duration)
	if err != nil {
		return Result{}, err
	}
	if poster == nil {
		return res, nil
	}
	// ffmpeg has turned the frame by the stream's display matrix, so the
	// poster is upright.
	sub, err := j.still(io.NewSectionReader(bytes.NewReader(poster), 0, int64(len(poster))), TypeJPEG, 1)
	if err != nil {
		return Result{}, fmt.Errorf("thumb: poster frame from ffmpeg: %w", err)
	}
	if res.Width == 0 || res.Height == 0 {
		res.Width, res.Height = sub.Width, sub.Height
	}
	res.Thumbs = sub.Thumbs
	return res, nil
}

// poster extracts one frame as JPEG: at posterAt, or the first frame when
// the video is known to be shorter. Seeking past the end of a video of
// unknown length makes ffmpeg succeed with no output, so an empty result is
// retried from the start. It returns nil when the video yields no frame.
func (j *job) poster(in string, d time.Duration) ([]byte, error) {
	seek := d == 0 || d > posterAt
	for {
		args := []string{"-nostdin", "-hide_banner", "-loglevel", "error"}
		if seek {
			// Before -i, -ss seeks in the input (to the keyframe before, then
			// decodes forward), so a poster from a file of several GB reads
			// only the index and a few frames.
			args = append(args, "-ss", strconv.FormatFloat(posterAt.Seconds(), 'f', -1, 64))
		}
		args = append(args,
			"-protocol_whitelist", "file",
			"-f", demuxers[j.contentType],
			"-i", "file:"+in, // the prefix keeps any name from reading as an option or a protocol
			"-map", "0:v:0", "-an", "-sn", "-dn",
			"-frames:v", "1", "-f", "image2", "-vcodec", "mjpeg", "-q:v", "2",
			"pipe:1")
		out, err := j.run("ffmpeg", j.opt.tools.FFmpeg, "", args, maxPoster)
		if err != nil {
			return nil, err
		}
		if len(out) > 0 {
			return out, nil
		}
		if !seek {
			return nil, nil
		}
		seek = false
	}
}

type probeResult struct {
	width, height int
	duration      time.Duration
	hasVideo      bool
}

// probe asks ffprobe for the duration and the dimensions a viewer sees
// (turned by the display matrix; non-square pixels, which phones do not
// write, are left uncorrected, in the poster too).
func (j *job) probe(in string) (probeResult, error) {
	args := []string{"-v", "error", "-hide_banner",
		"-protocol_whitelist", "file",
		"-f", demuxers[j.contentType],
		"-select_streams", "v:0",
		"-show_entries", "format=duration:stream=width,height:stream_tags=rotate:stream_side_data=rotation",
		"-of", "json",
		"file:" + in}
	out, err := j.run("ffprobe", j.opt.tools.FFprobe, "", args, 1<<20)
	if err != nil {
		return probeResult{}, err
	}
	return parseProbe(out)
}

// parseProbe reads ffprobe's JSON (see probe).
func parseProbe(out []byte) (probeResult, error) {
	var p struct {
		Streams []struct {
			Width  int `json:"width"`
			Height int `json:"height"`
			Tags   struct {
				Rotate string `json:"rotate"` // before ffmpeg 5
			} `json:"tags"`
			SideData []struct {
				Rotation *float64 `json:"rotation"`
			} `json:"side_data_list"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		return probeResult{}, fmt.Errorf("thumb: reading ffprobe output: %w", err)
	}
	var r probeResult
	if s, err := strconv.ParseFloat(p.Format.Duration, 64); err == nil {
		r.duration = secondsToDuration(s)
	}
	if len(p.Streams) == 0 {
		return r, nil // no picture: a sound-only file
	}
	s := p.Streams[0]
	r.hasVideo = true
	r.width, r.height = s.Width, s.Height
	rot, _ := strconv.ParseFloat(s.Tags.Rotate, 64)
	for _, sd := range s.SideData {
		if sd.Rotation != nil {
			rot = *sd.Rotation
		}
	}
	if quarterTurn(rot) {
		r.width, r.height = r.height, r.width
	}
	return r, nil
}

// quarterTurn reports whether a rotation in degrees is an odd number of
// quarter turns, which swaps the sides.
func quarterTurn(deg float64) bool {
	q := math.Round(deg / 90)
	return math.Abs(deg-q*90) < 1 && int64(q)%2 != 0
}

func secondsToDuration(s float64) time.Duration {
	if math.IsNaN(s) || s <= 0 || s >= float64(math.MaxInt64)/float64(time.Second) {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}

// mp4Info reads the duration ('mvhd', or 'mehd' for a fragmented file) and
// the shown dimensions of the first picture track ('tkhd' sizes, swapped
// when its matrix turns them a quarter turn) of an MP4 or QuickTime file.
func mp4Info(r io.ReaderAt, size int64) (w, h int, d time.Duration, err error) {
	moov, err := findTopLevel(r, size, "moov", maxMoov)
	if err != nil {
		return 0, 0, 0, err
	}
	return parseMoov(moov)
}

// parseMoov reads the body of a 'moov' box; see mp4Info.
func parseMoov(moov []byte) (w, h int, d time.Duration, err error) {
	boxes, err := parseBoxes(moov)
	if err != nil && len(boxes) == 0 {
		return 0, 0, 0, err
	}
	var timescale uint32
	if mvhd, ok := child(boxes, "mvhd"); ok {
		var dur uint64
		timescale, dur = parseMVHD(mvhd.body)
		if dur == 0 {
			if mvex, ok := childBoxes(boxes, "mvex"); ok {
				if mehd, ok := child(mvex, "mehd"); ok {
					dur = parseMEHD(mehd.body)
				}
			}
		}
		if timescale > 0 {
			d = secondsToDuration(float64(dur) / float64(timescale))
		}
	}
	for _, trak := range boxes {
		if trak.typ != "trak" {
			continue
		}
		tb, err := parseBoxes(trak.body)
		if err != nil && len(tb) == 0 {
			continue
		}
		if !isPictureTrack(tb) {
			continue
		}
		if tkhd, ok := child(tb, "tkhd"); ok {
			if w, h, ok := parseTKHD(tkhd.body); ok {
				return w, h, d, nil
			}
		}
	}
	if d > 0 {
		return 0, 0, d, nil
	}
	return 0, 0, 0, errors.New("thumb: no duration nor picture track in 'moov'")
}

// parseMVHD returns the movie's timescale and duration; an all-ones
// duration means unknown and comes back as 0.
func parseMVHD(b []byte) (timescale uint32, dur uint64) {
	v, _, b, ok := fullBox(b)
	switch {
	case ok && v == 0 && len(b) >= 16:
		timescale, dur = binary.BigEndian.Uint32(b[8:]), uint64(binary.BigEndian.Uint32(b[12:]))
		if dur == math.MaxUint32 {
			dur = 0
		}
	case ok && v == 1 && len(b) >= 28:
		timescale, dur = binary.BigEndian.Uint32(b[16:]), binary.BigEndian.Uint64(b[20:])
		if dur == math.MaxUint64 {
			dur = 0
		}
	}
	return timescale, dur
}

// parseMEHD returns a fragmented movie's whole duration, in the 'mvhd'
// timescale.
func parseMEHD(b []byte) uint64 {
	v, _, b, ok := fullBox(b)
	switch {
	case ok && v == 0 && len(b) >= 4:
		return uint64(binary.BigEndian.Uint32(b))
	case ok && v == 1 && len(b) >= 8:
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// isPictureTrack reports whether a track's handler ('mdia'/'hdlr') is
// 'vide'. In QuickTime the same bytes are the component subtype.
func isPictureTrack(trak []box) bool {
	mdia, ok := childBoxes(trak, "mdia")
	if !ok {
		return false
	}
	hdlr, ok := child(mdia, "hdlr")
	if !ok {
		return false
	}
	_, _, b, ok := fullBox(hdlr.body)
	return ok && len(b) >= 8 && string(b[4:8]) == "vide"
}

// parseTKHD returns a track's shown width and height.
func parseTKHD(b []byte) (w, h int, ok bool) {
	v, _, b, ok := fullBox(b)
	if !ok {
		return 0, 0, false
	}
	// Creation and modification times, track id, a reserved word and the
	// duration, with 64-bit times and duration in version 1; then 16 bytes
	// of reserved, layer, group and volume fields.
	off := 20 + 16
	if v == 1 {
		off = 32 + 16
	}
	if len(b) < off+36+8 {
		return 0, 0, false
	}
	m := b[off : off+36]
	a, d := int32(binary.BigEndian.Uint32(m[0:])), int32(binary.BigEndian.Uint32(m[16:]))
	// Sizes are 16.16 fixed point.
	w = int(binary.BigEndian.Uint32(b[off+36:]) >> 16)
	h = int(binary.BigEndian.Uint32(b[off+40:]) >> 16)
	if w == 0 || h == 0 {
		return 0, 0, false
	}
	// A matrix with zero diagonal maps x to ±y: a quarter turn.
	if a == 0 && d == 0 {
		w, h = h, w
	}
	return w, h, true
}
