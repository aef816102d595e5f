package mediacheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// toolTimeout bounds every run of an outside tool, so a tool that hangs on
// a hostile file fails the test instead of the test binary's deadline.
const toolTimeout = 2 * time.Minute

// Exiftool asks exiftool, when it is installed, for every location tag it
// can find in a file. It returns nil, false without exiftool.
//
// It asks only for the tags it names; [Positions] is the stronger judge.
func Exiftool(t testing.TB, path string) (map[string]any, bool) {
	t.Helper()
	bin, err := exec.LookPath("exiftool")
	if err != nil {
		return nil, false
	}
	out, err := exec.Command(bin, "-j", "-a", "-G1", "-ee",
		"-gps:all", "-location:all", "-GPSLatitude", "-GPSLongitude", "-GPSPosition",
		"-GPSCoordinates", "-ISO6709", "-LocationInformation", "-City", path).Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("exiftool: %v", err)
	}
	var res []map[string]any
	if err := json.Unmarshal(out, &res); err != nil || len(res) != 1 {
		t.Fatalf("exiftool output %q: %v", out, err)
	}
	delete(res[0], "SourceFile")
	return res[0], true
}

// Positions asks exiftool, when it is installed, for every tag of a file
// (duplicates, embedded documents such as timed metadata tracks, and unknown
// tags included) and returns, as "Group:Tag=value (why)", each one that
// betrays where the file was made:
//   - a tag whose name says GPS, location, coordinates, position, ISO 6709,
//     latitude/longitude or geo-anything;
//   - a place name tag (City, Country, CountryCode, State, Province,
//     Sublocation, LocationShown*, LocationCreated*, Region*, PlaceName...);
//   - any tag whose value holds an ISO 6709 point (+48.8584+002.2945/,
//     +485130+0021740/...), a degrees-minutes position (48 deg 51' 30" N,
//     48,51.5N, 48°51'N) or one of the markers (the fixtures' coordinates,
//     "Paris" and "France", are always looked for).
//
// It errs on the side of reporting: a false alarm costs a look, a miss costs
// a child's address. It returns nil, false when exiftool is not installed;
// callers skip then, or fail when KINBRIDGE_TEST_REQUIRE names "exiftool"
// (testenv.Tool does both).
//
// exiftool runs twice: with -n, where numbers come as numbers, and without,
// where they come as the tool prints them (degrees, minutes, N/S/E/W).
func Positions(t testing.TB, path string, markers ...string) (found []string, ok bool) {
	t.Helper()
	bin, err := exec.LookPath("exiftool")
	if err != nil {
		return nil, false
	}
	markers = append(append([]string(nil), fixtureMarkers...), markers...)
	seen := map[string]bool{}
	for _, conv := range [][]string{{"-n"}, nil} {
		args := append([]string{"-a", "-G1", "-ee", "-u", "-U", "-j", "-api", "LargeFileSupport=1"}, conv...)
		tags := runExiftool(t, bin, append(args, path))
		for _, name := range sortedKeys(tags) {
			for _, f := range judgeTag(name, tags[name], markers) {
				if !seen[f] {
					seen[f] = true
					found = append(found, f)
				}
			}
		}
	}
	return found, true
}

// fixtureMarkers are the strings every ingest fixture's location was written
// with (see services/media/ingest/testdata/make.sh).
var fixtureMarkers = []string{"48.8584", "2.2945", "48,51.5", "2,17.6", "Paris", "France"}

// runExiftool runs exiftool -j and returns the tags of its one file.
func runExiftool(t testing.TB, bin string, args []string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// exiftool exits 1 for a file it cannot read and still prints JSON with
	// an Error tag; no output at all is a tool failure.
	if err != nil && len(out) == 0 {
		t.Fatalf("exiftool %s: %v: %s", strings.Join(args, " "), err, stderr.Bytes())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber() // keep numbers as exiftool wrote them, for marker search
	var res []map[string]any
	if err := dec.Decode(&res); err != nil || len(res) != 1 {
		t.Fatalf("exiftool output %.300q: %v", out, err)
	}
	if e, ok := res[0]["ExifTool:Error"]; ok {
		t.Logf("exiftool cannot read %s: %v", args[len(args)-1], e)
	}
	return res[0]
}

// ignoredGroups hold what exiftool says about the file on disk and about
// itself, never what the file holds: the temp file's name may well contain
// "gps".
var ignoredGroups = map[string]bool{"SourceFile": true, "ExifTool": true, "System": true}

var (
	// positionName matches tag names that say GPS, location, coordinates and
	// the like, in any case.
	positionName = regexp.MustCompile(`(?i)gps|locat|coordinat|iso.?6709|latitude|longitude|geotag|geoloc|^geo|xyz$|loci$`)
	// positionWord matches "Position" as a word of a CamelCase name.
	positionWord = regexp.MustCompile(`Position`)
	// notPosition are names with "Position" that say where something is in
	// the file or the picture, not on Earth.
	notPosition = regexp.MustCompile(`(?i)(YCbCrPositioning|SeekPosition|Cue\w*Position|ClusterPosition|FocusPosition|PrevSize)$`)
	// placeName matches place name tags (CamelCase, as exiftool names them;
	// "Opacity" must not match "City").
	placeName = regexp.MustCompile(`City|Country|Province|^State$|-State$|ProvinceState|Sub-?[Ll]ocation|PlaceName|^Region|Region$|Locality|Landmark`)
	// iso6709 matches an ISO 6709 point: latitude ±DD[MM[SS]][.d], longitude
	// ±DDD[MM[SS]][.d], optional altitude and CRS, then "/" (or, without the
	// slash, only the decimal form with both fractions).
	iso6709 = regexp.MustCompile(`[+-]\d{2}(?:\d{2}){0,2}(?:\.\d+)?[+-]\d{3}(?:\d{2}){0,2}(?:\.\d+)?(?:[+-]\d+(?:\.\d+)?)?(?:CRS[A-Za-z0-9:_]*)?/|[+-]\d{2}\.\d+[+-]\d{3}\.\d+`)
	// degMin matches degrees and minutes as exiftool prints them
	// (48 deg 51' 30.24" N), as XMP writes them (48,51.504N; 48,51,30N) and
	// with a degree sign (48°51'30"N).
	degMin = regexp.MustCompile(`\d{1,3} deg \d{1,2}'|\d{1,3},\d{1,2}(?:[.,]\d+)?[NSEW]\b|\d{1,3}\s?Â?°\s?\d{1,2}\s?['′]`)
)

// judgeTag returns why the tag "Group:Name" with value v betrays a
// location, if it does.
func judgeTag(key string, v any, markers []string) []string {
	group, name, ok := strings.Cut(key, ":")
	if !ok {
		group, name = "", key
	}
	if ignoredGroups[group] || key == "SourceFile" {
		return nil
	}
	show := fmt.Sprintf("%s=%.120s", key, flatten(v))
	var why []string
	switch {
	case positionName.MatchString(name), positionWord.MatchString(name) && !notPosition.MatchString(name):
		why = append(why, show+" (position tag)")
	case placeName.MatchString(name):
		why = append(why, show+" (place name tag)")
	}
	text := flatten(v)
	switch {
	case iso6709.MatchString(text):
		why = append(why, fmt.Sprintf("%s (ISO 6709 point %q)", show, iso6709.FindString(text)))
	case degMin.MatchString(text):
		why = append(why, fmt.Sprintf("%s (degrees and minutes %q)", show, degMin.FindString(text)))
	}
	for _, m := range markers {
		if m != "" && strings.Contains(text, m) {
			why = append(why, fmt.Sprintf("%s (marker %q)", show, m))
		}
	}
	return why
}

// flatten writes a JSON value (strings, numbers, lists and structures, as
// exiftool gives XMP structures) as one string to search.
func flatten(v any) string {
	var b strings.Builder
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 32 {
			return
		}
		switch v := v.(type) {
		case string:
			b.WriteString(v)
		case json.Number:
			b.WriteString(v.String())
		case []any:
			for i, e := range v {
				if i > 0 {
					b.WriteByte(' ')
				}
				walk(e, depth+1)
			}
		case map[string]any:
			for _, k := range sortedKeys(v) {
				b.WriteString(k + "=")
				walk(v[k], depth+1)
				b.WriteByte(' ')
			}
		default:
			fmt.Fprint(&b, v)
		}
	}
	walk(v, 0)
	return b.String()
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
