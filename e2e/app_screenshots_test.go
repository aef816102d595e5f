//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// TestAppScreenshots takes the screenshots of docs/app.md: a suite with a
// child who has a few months of grades, milestones, a photo and a video,
// each main page of the app at a phone's and a desktop's size. It runs only
// when KINBRIDGE_SCREENSHOTS names the directory to write them to (`make
// screenshots DIR=...`): tests do not write into the tree. With ffmpeg the
// PNGs are reduced to 256 colours, which keeps them small in the
// repository.
func TestAppScreenshots(t *testing.T) {
	out := os.Getenv("KINBRIDGE_SCREENSHOTS")
	if out == "" {
		t.Skip("KINBRIDGE_SCREENSHOTS is not set: `make screenshots DIR=...` takes the app's screenshots")
	}
	if !filepath.IsAbs(out) {
		t.Fatalf("KINBRIDGE_SCREENSHOTS=%s: want an absolute path", out)
	}
	chromium := needChromium(t)
	dir := nodeClients(t)
	idp := testenv.StartOIDCProvider(t)
	idp.AddUser("maria@idp", "maria", "maria-password")
	// With a provider the signed-out page offers "Sign in"; maria
	// administers, so every page is hers to see.
	p := serve(t, t.TempDir(), nil, "--oidc-issuer", idp.Issuer, "--oidc-client-id", "kinbridge-web", "--oidc-client-secret", "web-secret",
		"--oidc-admin-subjects", "maria@idp")
	idp.AddClient("kinbridge-web", "web-secret", "http://"+p.gateway+"/auth/callback", 0)

	child, photo := seedFamily(t, p, "maria@idp")
	var res struct {
		journal
		Files []string `json:"files"`
	}
	runApp(t, dir, nil, []string{p.adminToken}, &res,
		"app-screens.mjs", chromium, "http://"+p.gateway, strings.TrimPrefix(child, "children/"), photo, out,
		"maria:maria-password", strconv.FormatInt(appTimeout.Milliseconds(), 10))
	ffmpeg, err := exec.LookPath("ffmpeg")
	for _, f := range res.Files {
		path := filepath.Join(out, f)
		if err != nil {
			break
		}
		tmp := path + ".pal.png"
		// 256 colours, no dithering: flat UI colours stay flat.
		cmd := exec.Command(ffmpeg, "-y", "-loglevel", "error", "-i", path, "-vf",
			"split[a][b];[a]palettegen=max_colors=256:stats_mode=full[p];[b][p]paletteuse=dither=none", tmp)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg on %s: %v\n%s", f, err, b)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d screenshots to %s: %v", len(res.Files), out, res.Files)
}

// seedFamily fills the suite as a school year would: two children; parent
// (as contributor), a guardian and a teacher following the first; months
// of assessments in three subjects, milestones, a photo and a video. It
// returns the first child and the photo's media id.
func seedFamily(t *testing.T, p *process, parent string) (child, photo string) {
	t.Helper()
	post := func(path, body string) []byte {
		t.Helper()
		code, out := apiCall(t, p.gateway, "POST", path, p.adminToken, "application/json", []byte(body))
		if code != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, code, out)
		}
		return out
	}
	var c struct{ Name string }
	json.Unmarshal(post("/v1/children", `{"displayName":"Ben Lovelace","school":"Riverside Primary","gradeLevel":"1"}`), &c)
	json.Unmarshal(post("/v1/children", `{"displayName":"Ada Lovelace","school":"Riverside Primary","gradeLevel":"3"}`), &c)
	child = c.Name
	for _, g := range []string{
		`{"user":"` + parent + `","role":"ROLE_CONTRIBUTOR","relation":"mother"}`,
		`{"user":"david","role":"ROLE_GUARDIAN","relation":"father"}`,
		`{"user":"ms-okafor","role":"ROLE_CONTRIBUTOR","relation":"teacher"}`,
	} {
		post("/v1/"+child+"/guardians", g)
	}
	now := time.Now()
	subjects := []struct {
		name   string
		scores []int // of 20, oldest first
	}{
		{"Mathematics", []int{12, 13, 15, 14, 16, 17, 18}},
		{"Reading", []int{15, 15, 16, 17, 16, 18, 19}},
		{"Science", []int{10, 12, 11, 13, 15, 14, 16}},
	}
	for _, s := range subjects {
		for i, score := range s.scores {
			day := now.AddDate(0, i-len(s.scores)+1, 0).AddDate(0, 0, -3*len(s.name)%7)
			if day.After(now) {
				day = now
			}
			post("/v1/"+child+"/assessments", fmt.Sprintf(
				`{"title":"%s quiz %d","subject":%q,"kind":"ASSESSMENT_KIND_TEST","assessedDate":%q,"score":{"points":{"earned":%d,"possible":20}},"teacherComment":"Steady progress."}`,
				s.name, i+1, s.name, day.Format(time.DateOnly), score))
		}
	}
	for i, m := range []string{
		`"title":"Read a whole chapter book alone","category":"MILESTONE_CATEGORY_ACADEMIC"`,
		`"title":"Swam a length of the pool","category":"MILESTONE_CATEGORY_SPORTS","description":"25 m, front crawl, no stops."`,
	} {
		post("/v1/"+child+"/milestones", fmt.Sprintf(`{%s,"achievedDate":%q}`, m, now.AddDate(0, 0, -20+15*i).Format(time.DateOnly)))
	}
	video, err := os.ReadFile(filepath.Join(repoRoot, "e2e", "testdata", clipFile))
	if err != nil {
		t.Fatal(err)
	}
	upload := func(query, contentType string, body []byte) string {
		t.Helper()
		code, out := apiCall(t, p.gateway, "POST", "/v1/"+child+"/media:upload?"+query, p.adminToken, contentType, body)
		var item struct{ Name, State, FailureReason string }
		if err := json.Unmarshal(out, &item); code != http.StatusOK || err != nil {
			t.Fatalf("upload %s: %d %s", query, code, out)
		}
		for deadline := time.Now().Add(time.Minute); item.State != "MEDIA_STATE_READY"; time.Sleep(200 * time.Millisecond) {
			if item.State == "MEDIA_STATE_FAILED" || time.Now().After(deadline) {
				t.Fatalf("%s is not READY: %+v", query, item)
			}
			_, out := apiCall(t, p.gateway, "GET", "/v1/"+item.Name, p.adminToken, "", nil)
			json.Unmarshal(out, &item)
		}
		return item.Name[strings.LastIndex(item.Name, "/")+1:]
	}
	upload("title=Sports+day+relay&kind=video&filename=relay.webm", "video/webm", video)
	photo = upload("title=Class+garden&caption=Sunflowers+the+class+planted+in+spring&kind=photo&filename=garden.jpg", "image/jpeg", landscapeJPEG(t, 1200, 800))
	return child, photo
}

// landscapeJPEG draws a sky, a sun and hills: a photo that compresses
// like one and looks like something in a screenshot.
func landscapeJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			hill := 0.62 + 0.08*math.Sin(fx*6.3) + 0.04*math.Sin(fx*17+1)
			var c color.RGBA
			switch dx, dy := fx-0.75, (fy-0.22)*float64(h)/float64(w); {
			case dx*dx+dy*dy < 0.004:
				c = color.RGBA{255, 214, 90, 255}
			case fy > hill:
				g := uint8(150 - 70*(fy-hill))
				c = color.RGBA{60, g, 70, 255}
			default:
				c = color.RGBA{uint8(120 + 80*fy), uint8(170 + 60*fy), 235, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
