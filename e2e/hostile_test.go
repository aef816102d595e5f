//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// The limits the hostile suite runs under: small enough for every attack
// to reach its limit within a bounded number of requests, large enough
// that the well-behaved family never does.
const (
	hostileMaxJSON      = 256 << 10
	hostileMaxPhoto     = 1 << 20
	hostileFeeds        = 8
	hostileUploads      = 4
	hostileStreams      = 32
	hostileUserRate     = 10
	hostileUserBurst    = 40
	hostileRSSLimit     = 512 << 20
	hostileHeaderWait   = 2 * time.Second
	hostileAttackWindow = 90 * time.Second
)

// TestHostileClients runs `kinbridge serve all` and a second `serve
// gateway` on the same services and the same Redis, and attacks them from
// loopback with bounded counts, all at once, while a well-behaved family
// goes on with its day. Every attack must get its limit's answer each
// time; the family must see no failure; what was stored before must come
// back unchanged; the `serve all` process must stay healthy with a peak
// RSS under 512 MiB. The figures go to docs/limits.md ("Hostile-client
// suite").
func TestHostileClients(t *testing.T) {
	redisURL := testenv.Redis(t)
	limits := []string{"--redis-url", redisURL, "--trusted-proxies", "127.0.0.1",
		"--rate-limit-user", strconv.Itoa(hostileUserRate), "--rate-limit-user-burst", strconv.Itoa(hostileUserBurst),
		"--rate-limit-address", "50", "--rate-limit-address-burst", "200",
		"--max-json-bytes", strconv.Itoa(hostileMaxJSON), "--max-photo-bytes", strconv.Itoa(hostileMaxPhoto),
		"--http-read-header-timeout", hostileHeaderWait.String(),
		"--grpc-max-concurrent-streams", strconv.Itoa(hostileStreams)}
	env := []string{"KINBRIDGE_MAX_FEEDS_PER_USER=" + strconv.Itoa(hostileFeeds),
		"KINBRIDGE_MAX_UPLOADS_PER_USER=" + strconv.Itoa(hostileUploads)}
	a := serve(t, t.TempDir(), env, limits...)
	b := start(t, "gateway", a.dataDir, env, append([]string{"--gateway-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--progress-addr", a.progress, "--media-addr", a.media, "--notification-addr", a.notification}, limits...)...)
	pid := a.cmd.Process.Pid
	// Every attacker's token is issued here, on the test's goroutine.
	tokens := map[string]string{}
	for _, user := range []string{"bodyq", "jsonq", "feederq", "uploaderq", "bursterq"} {
		tokens[user] = issueToken(t, a.dataDir, user)
	}
	for i := range 2*hostileStreams + 16 {
		for _, user := range []string{fmt.Sprintf("streamq%d", i), fmt.Sprintf("rawq%d", i)} {
			tokens[user] = issueToken(t, a.dataDir, user)
		}
	}
	token := func(user string) string {
		if tok, ok := tokens[user]; ok {
			return tok
		}
		panic("no token issued for " + user)
	}

	fam := seedHostileFamily(t, a)
	before := fam.snapshot(t, a.gateway)

	// RSS of `serve all`, sampled while the attacks run.
	var peakRSS atomic.Int64
	sampling, stopSampling := context.WithCancel(context.Background())
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for sampling.Err() == nil {
			if rss := procStatusBytes(pid, "VmRSS:"); rss > peakRSS.Load() {
				peakRSS.Store(rss)
			}
			select {
			case <-sampling.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), hostileAttackWindow)
	defer cancel()
	h := &hostile{a: a, b: b, ctx: ctx}

	// The family's journey runs until every attack has ended.
	journeyDone := make(chan struct{})
	attacksOver := make(chan struct{})
	var journeys, journeysUnderAttack, journeyFailures atomic.Int64
	var firstFailure atomic.Value
	go func() {
		defer close(journeyDone)
		for i := 0; ; i++ {
			select {
			case <-attacksOver:
				if i >= 10 {
					return
				}
			default:
				journeysUnderAttack.Add(1)
			}
			if err := fam.journey(a.gateway, i); err != nil {
				if journeyFailures.Add(1) == 1 {
					firstFailure.Store(err.Error())
				}
			}
			journeys.Add(1)
			time.Sleep(300 * time.Millisecond) // a person's pace, not a timing assertion
		}
	}()

	attacks := []struct {
		name string
		run  func(h *hostile) (string, error)
	}{
		{"huge bodies without a token", hostileNoToken},
		{"oversized bodies with a token", func(h *hostile) (string, error) { return hostileOversized(h, token("bodyq"), fam.child) }},
		{"deep and huge JSON", func(h *hostile) (string, error) { return hostileJSON(h, token("jsonq")) }},
		{"thousands of feeds for one user", func(h *hostile) (string, error) { return hostileFeedsOfOneUser(h, token("feederq")) }},
		{"many gRPC streams on one connection", func(h *hostile) (string, error) { return hostileStreamsOnOneConn(h, token) }},
		{"raw HTTP/2 streams beyond the limit", func(h *hostile) (string, error) { return hostileRawStreams(h, token) }},
		{"slow loris", hostileSlowLoris},
		{"upload sessions beyond the cap", func(h *hostile) (string, error) { return hostileUploadSessions(h, token("uploaderq"), fam.child) }},
		{"decompression bombs", func(h *hostile) (string, error) { return hostileBombs(h, fam.teacher, fam.child) }},
		{"a burst over the rate limit across two gateways", func(h *hostile) (string, error) { return hostileBurst(h, token("bursterq")) }},
	}
	var wg sync.WaitGroup
	figures := make([]string, len(attacks))
	errs := make([]error, len(attacks))
	for i, at := range attacks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			figures[i], errs[i] = at.run(h)
		}()
	}
	wg.Wait()
	close(attacksOver)
	<-journeyDone
	stopSampling()
	<-sampled

	for i, at := range attacks {
		if errs[i] != nil {
			t.Errorf("%s: %v", at.name, errs[i])
		}
		t.Logf("%s: %s", at.name, figures[i])
	}
	t.Logf("the family's journey: %d rounds (%d begun while the attacks ran), %d failures, %d photos uploaded",
		journeys.Load(), journeysUnderAttack.Load(), journeyFailures.Load(), len(fam.uploads))
	if n := journeyFailures.Load(); n > 0 {
		t.Errorf("the well-behaved family failed %d of %d rounds; the first: %v", n, journeys.Load(), firstFailure.Load())
	}
	if journeysUnderAttack.Load() < 1 {
		t.Errorf("the family's journey never ran while the attacks did")
	}

	hwm := procStatusBytes(pid, "VmHWM:")
	t.Logf("serve all: peak RSS (VmHWM) %.1f MiB, highest VmRSS sampled %.1f MiB", float64(hwm)/(1<<20), float64(peakRSS.Load())/(1<<20))
	if hwm <= 0 || hwm >= hostileRSSLimit {
		t.Errorf("serve all's peak RSS is %d bytes, want under %d", hwm, hostileRSSLimit)
	}

	for _, p := range []*process{a, b} {
		if err := p.ready(); err != nil {
			t.Errorf("after the attacks, a process is not ready: %v", err)
		}
		for _, bad := range []string{"panic", "fatal error", "DATA RACE"} {
			if strings.Contains(p.stderr.String(), bad) {
				t.Errorf("a process logged %q:\n%s", bad, p.stderr)
			}
		}
	}
	// What the family uploaded under attack is there, processed.
	for _, item := range fam.uploads {
		waitReady(t, a.gateway, fam.teacher, item)
	}
	after := fam.snapshot(t, a.gateway)
	for what, sum := range before {
		if after[what] != sum {
			t.Errorf("%s changed under attack:\nbefore %s\nafter  %s", what, sum, after[what])
		}
	}
}

// hostile is what every attack reaches.
type hostile struct {
	a, b *process
	ctx  context.Context
}

// procStatusBytes reads a kB line of /proc/PID/status, in bytes (0 if none).
func procStatusBytes(pid int, field string) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// hostileFamily is the well-behaved family: a child, a guardian who reads,
// a contributor who records and uploads.
type hostileFamily struct {
	child, guardian, teacher string
	records                  []string
	photo                    string
	uploads                  []string // by the journey
}

func seedHostileFamily(t *testing.T, p *process) *hostileFamily {
	t.Helper()
	f := &hostileFamily{guardian: issueToken(t, p.dataDir, "mariaq"), teacher: issueToken(t, p.dataDir, "teacherq")}
	call := func(token, method, path, body string, out any) {
		t.Helper()
		code, b, _ := httpDo(t, method, "http://"+p.gateway+path, token, "application/json", strings.NewReader(body))
		if code != 200 {
			t.Fatalf("%s %s: %d %s", method, path, code, b)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatal(err)
			}
		}
	}
	var named struct{ Name string }
	call(p.adminToken, "POST", "/v1/children", `{"displayName":"Ada","birthDate":"2017-05-02","timeZone":"Europe/Lisbon"}`, &named)
	f.child = named.Name
	call(p.adminToken, "POST", "/v1/"+f.child+"/guardians", `{"user":"mariaq","role":"ROLE_GUARDIAN","relation":"mother"}`, nil)
	for _, contributor := range []string{"teacherq", "uploaderq", "bodyq"} {
		call(p.adminToken, "POST", "/v1/"+f.child+"/guardians", `{"user":"`+contributor+`","role":"ROLE_CONTRIBUTOR"}`, nil)
	}
	for _, rec := range []struct{ path, body string }{
		{"/assessments", `{"subject":"Math","title":"Fractions quiz","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-01","score":{"points":{"earned":18,"possible":20}},"teacherComment":"Careful work"}`},
		{"/assessments", `{"subject":"Math","title":"Homework 3","kind":"ASSESSMENT_KIND_HOMEWORK","assessedDate":"2026-03-15","score":{"letterGrade":"B+"}}`},
		{"/milestones", `{"title":"Read a chapter book alone","category":"MILESTONE_CATEGORY_ACADEMIC","achievedDate":"2026-03-20"}`},
	} {
		call(f.teacher, "POST", "/v1/"+f.child+rec.path, rec.body, &named)
		f.records = append(f.records, named.Name)
	}
	code, body := restUpload(t, p.gateway, f.teacher, f.child, "?title=Portrait&kind=photo&filename=me.jpg", "image/jpeg", testdata(t, "gps.jpg"))
	if err := json.Unmarshal(body, &named); code != 200 || err != nil {
		t.Fatalf("seed photo: %d %s", code, body)
	}
	f.photo = named.Name
	waitReady(t, p.gateway, f.teacher, f.photo)
	return f
}

// snapshot reads what the family has stored: each answer's bytes and the
// photo's content, as SHA-256 sums.
func (f *hostileFamily) snapshot(t *testing.T, gateway string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	paths := []string{"/v1/" + f.child, "/v1/" + f.child + "/guardians", "/v1/" + f.child + "/assessments", "/v1/" + f.child + "/milestones", "/v1/" + f.photo}
	for _, r := range f.records {
		paths = append(paths, "/v1/"+r)
	}
	for _, path := range paths {
		code, body, _ := httpDo(t, "GET", "http://"+gateway+path, f.guardian, "", nil)
		if code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		sums[path] = sha256Hex(body)
	}
	sums["/v1/"+f.photo+":content"], _ = contentSHA256(t, gateway, f.guardian, f.photo)
	return sums
}

// journey is one round of the family's day: the guardian lists the
// children, reads a record and the notification feed; every third round
// the contributor uploads a small photo and it is processed.
func (f *hostileFamily) journey(gateway string, round int) error {
	client := &http.Client{Timeout: 30 * time.Second}
	get := func(token, path string) ([]byte, error) {
		req, _ := http.NewRequest("GET", "http://"+gateway+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return body, nil
	}
	for _, path := range []string{"/v1/children", "/v1/" + f.records[round%len(f.records)], "/v1/users/me/notifications?pageSize=10"} {
		if _, err := get(f.guardian, path); err != nil {
			return err
		}
	}
	if round%3 != 0 {
		return nil
	}
	photo, err := os.ReadFile(repoRoot + "/services/media/ingest/testdata/plain.jpg")
	if err != nil {
		return err
	}
	req, _ := http.NewRequest("POST", "http://"+gateway+"/v1/"+f.child+"/media:upload?kind=photo&filename=day.jpg&title=Day+"+strconv.Itoa(round), bytes.NewReader(photo))
	req.Header.Set("Authorization", "Bearer "+f.teacher)
	req.Header.Set("Content-Type", "image/jpeg")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var item restItem
	if err := json.Unmarshal(body, &item); resp.StatusCode != 200 || err != nil {
		return fmt.Errorf("upload: %d %s", resp.StatusCode, body)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		body, err := get(f.teacher, "/v1/"+item.Name)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(body, &item); err != nil {
			return err
		}
		switch {
		case item.State == "MEDIA_STATE_READY":
			f.uploads = append(f.uploads, item.Name)
			return nil
		case item.State == "MEDIA_STATE_FAILED":
			return fmt.Errorf("the day's photo failed: %s", item.FailureReason)
		case time.Now().After(deadline):
			return fmt.Errorf("the day's photo is still %s", item.State)
		}
	}
}

// rawAnswer sends a request's head and then body (which may be endless)
// over a fresh connection, reading the answer meanwhile, and returns the
// status, the answer's body and how many body bytes the server took.
func rawAnswer(ctx context.Context, addr, head string, body io.Reader) (int, string, int64, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, "", 0, err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	var sent atomic.Int64
	go func() {
		if _, err := io.WriteString(conn, head); err != nil {
			return
		}
		n, _ := io.Copy(conn, body)
		sent.Store(n)
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", 0, err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	conn.Close()
	return resp.StatusCode, string(b), sent.Load(), nil
}

// zeros is an endless body.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// filler is an endless run of x.
type filler struct{}

func (filler) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// hostileNoToken: 256 MiB bodies without a token, declared and chunked, on
// a JSON route and on uploads: 401 at once, the body left unread.
func hostileNoToken(h *hostile) (string, error) {
	const huge = 256 << 20
	answers := map[int]int{}
	for i := range 20 {
		path := []string{"/v1/children", "/v1/children/x/media:upload?kind=photo", "/v1/uploads/"}[i%3]
		head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: kinbridge\r\nX-Forwarded-For: 192.0.2.%d\r\nContent-Type: application/json\r\n", path, 10+i)
		if i%2 == 0 {
			head += fmt.Sprintf("Content-Length: %d\r\n\r\n", huge)
		} else {
			head += "Transfer-Encoding: chunked\r\n\r\n"
		}
		ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
		code, body, _, err := rawAnswer(ctx, h.a.gateway, head, io.LimitReader(zeros{}, huge))
		cancel()
		if err != nil {
			return "", fmt.Errorf("POST %s without a token: %v", path, err)
		}
		answers[code]++
		if code != http.StatusUnauthorized {
			return "", fmt.Errorf("POST %s without a token: %d %s, want 401", path, code, body)
		}
	}
	return fmt.Sprintf("20 bodies of 256 MiB (10 declared, 10 chunked): answers %v", answers), nil
}

// hostileOversized: bodies over the limits with a valid token: 413 for
// JSON over --max-json-bytes and a photo over --max-photo-bytes, declared
// or found while reading.
func hostileOversized(h *hostile, token, child string) (string, error) {
	answers := map[int]int{}
	for i := range 12 {
		path, size := "/v1/children", int64(hostileMaxJSON+1)
		if i%2 == 1 {
			path, size = "/v1/"+child+"/media:upload?kind=photo&filename=big.jpg", hostileMaxPhoto+1
		}
		head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: kinbridge\r\nX-Forwarded-For: 192.0.2.%d\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n", path, 40+i, token)
		// JSON that is well-formed as far as it goes, so only its size is wrong.
		fill := func() io.Reader { return io.MultiReader(strings.NewReader(`{"displayName":"`), filler{}) }
		if i%2 == 1 {
			fill = func() io.Reader { return zeros{} }
		}
		var body io.Reader = io.LimitReader(fill(), 64<<20)
		if i%4 < 2 {
			head += fmt.Sprintf("Content-Length: %d\r\n\r\n", size)
			body = io.LimitReader(fill(), size)
		} else {
			head += "Transfer-Encoding: chunked\r\n\r\n"
			body = chunked(body)
		}
		ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
		code, answer, _, err := rawAnswer(ctx, h.a.gateway, head, body)
		cancel()
		if err != nil {
			return "", fmt.Errorf("POST %s over its limit: %v", path, err)
		}
		answers[code]++
		// A one-request upload must declare its size (411 otherwise).
		want := http.StatusRequestEntityTooLarge
		if i%4 == 3 {
			want = http.StatusLengthRequired
		}
		if code != want {
			return "", fmt.Errorf("POST %s over its limit: %d %s, want %d", path, code, answer, want)
		}
	}
	return fmt.Sprintf("12 bodies just over --max-json-bytes or --max-photo-bytes (declared, and chunked up to 64 MiB; a chunked upload is 411): answers %v", answers), nil
}

// chunked frames a body in 32 KiB HTTP/1.1 chunks.
func chunked(r io.Reader) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				if _, werr := fmt.Fprintf(pw, "%x\r\n%s\r\n", n, buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				io.WriteString(pw, "0\r\n\r\n")
				pw.Close()
				return
			}
		}
	}()
	return pr
}

// hostileJSON: JSON nested 100,000 deep, and large JSON of junk within and
// over the limit, with a token: 400 or 413, never a crash or a 500.
func hostileJSON(h *hostile, token string) (string, error) {
	deepArray := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	deepObject := strings.Repeat(`{"displayName":`, 15_000) + `"x"` + strings.Repeat("}", 15_000)
	var fields strings.Builder
	fields.WriteString("{")
	for i := 0; fields.Len() < hostileMaxJSON-64; i++ {
		fmt.Fprintf(&fields, `"f%d":[1,2,3],`, i)
	}
	fields.WriteString(`"displayName":"x"}`)
	longString := `{"displayName":"` + strings.Repeat("x", hostileMaxJSON-32) + `"}`
	overLimit := `[` + strings.Repeat(`{"a":1},`, 5<<20/8) + `{}]`
	answers := map[string]map[int]int{}
	cases := []struct {
		name, body string
		want       []int
	}{
		{"100k nested arrays", deepArray, []int{400}},
		{"15k nested objects", deepObject, []int{400}},
		{"a quarter MiB of unknown fields", fields.String(), []int{400}},
		{"a name a quarter MiB long", longString, []int{400}},
		{"5 MiB of objects", overLimit, []int{413}},
	}
	client := &http.Client{Timeout: 20 * time.Second}
	for round := range 4 {
		for _, c := range cases {
			for _, path := range []string{"/v1/children", "/v1/users/me/subscriptions"} {
				req, _ := http.NewRequestWithContext(h.ctx, "POST", "http://"+h.a.gateway+path, strings.NewReader(c.body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("192.0.2.%d", 60+round))
				resp, err := client.Do(req)
				if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
					// The gateway answered before reading the whole body and
					// closed the connection (docs/limits.md): a client still
					// writing may see only that. Counted as status 0.
					if answers[c.name] == nil {
						answers[c.name] = map[int]int{}
					}
					answers[c.name][0]++
					continue
				}
				if err != nil {
					return "", fmt.Errorf("%s to %s: %v", c.name, path, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if answers[c.name] == nil {
					answers[c.name] = map[int]int{}
				}
				answers[c.name][resp.StatusCode]++
				ok := false
				for _, w := range c.want {
					ok = ok || resp.StatusCode == w
				}
				if !ok {
					return "", fmt.Errorf("%s to %s: %d %.300s, want %v", c.name, path, resp.StatusCode, b, c.want)
				}
			}
		}
	}
	return fmt.Sprintf("%d requests: answers %v", 4*len(cases)*2, answers), nil
}

// hostileFeedsOfOneUser: one user opens a thousand SSE feeds: the first
// --max-feeds-per-user are served, every later one is 429 (TOO_MANY_FEEDS,
// or RATE_LIMITED once the user's budget is spent).
func hostileFeedsOfOneUser(h *hostile, token string) (string, error) {
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel() // closes the open feeds
	client := &http.Client{}
	open := func(i int) (int, string, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+h.a.gateway+"/v1/notifications/events?"+url.Values{"access_token": {token}}.Encode(), nil)
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.18.%d.%d", i/200, i%200+1))
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		if resp.StatusCode == 200 {
			return 200, "", nil // left open until ctx ends
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" && strings.Contains(string(b), "RATE_LIMITED") {
			return 0, "", fmt.Errorf("429 RATE_LIMITED without Retry-After")
		}
		return resp.StatusCode, string(b), nil
	}
	for i := range hostileFeeds {
		if code, body, err := open(i); err != nil || code != 200 {
			return "", fmt.Errorf("feed %d of %d: %d %s %v", i+1, hostileFeeds, code, body, err)
		}
	}
	var mu sync.Mutex
	reasons := map[string]int{}
	var failure error
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				code, body, err := open(i)
				mu.Lock()
				switch {
				case err != nil:
					failure = fmt.Errorf("feed %d: %v", i, err)
				case code != 429:
					failure = fmt.Errorf("feed %d beyond the cap: %d %s, want 429", i, code, body)
				case strings.Contains(body, "TOO_MANY_FEEDS"):
					reasons["TOO_MANY_FEEDS"]++
				case strings.Contains(body, "RATE_LIMITED"):
					reasons["RATE_LIMITED"]++
				default:
					failure = fmt.Errorf("feed %d beyond the cap: 429 %s", i, body)
				}
				mu.Unlock()
			}
		}()
	}
	for i := hostileFeeds; i < 1000+hostileFeeds; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if failure != nil {
		return "", failure
	}
	if reasons["TOO_MANY_FEEDS"] == 0 {
		return "", fmt.Errorf("no feed was refused as TOO_MANY_FEEDS: %v", reasons)
	}
	return fmt.Sprintf("%d feeds open, then 1000 more asked for: 429 %v", hostileFeeds, reasons), nil
}

// hostileStreamsOnOneConn: one gRPC connection asks for more notification
// streams than --grpc-max-concurrent-streams (each of a user of its own,
// so the feed cap is not what stops them). The server's limit holds: the
// extra streams wait, and a call on that connection waits with them,
// while other connections are served; when streams end, the waiting ones
// go on.
func hostileStreamsOnOneConn(h *hostile, token func(string) string) (string, error) {
	const extra = 8
	conn, err := grpc.NewClient(h.a.notification, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	client := notificationv1.NewNotificationServiceClient(conn)
	tokens := make([]string, hostileStreams+extra)
	for i := range tokens {
		tokens[i] = token(fmt.Sprintf("streamq%d", i))
	}
	ctxs := make([]context.CancelFunc, len(tokens))
	var opened atomic.Int64
	var openMu sync.Mutex
	var openOnes []context.CancelFunc // the streams that opened, in order
	errs := make(chan error, len(tokens))
	for i, tok := range tokens {
		ctx, cancel := context.WithCancel(h.ctx)
		ctxs[i] = cancel
		go func() {
			stream, err := client.StreamNotifications(as(ctx, tok), &notificationv1.StreamNotificationsRequest{Parent: "users/me"})
			if err != nil {
				if ctx.Err() == nil {
					errs <- err
				}
				return
			}
			openMu.Lock()
			openOnes = append(openOnes, cancel)
			openMu.Unlock()
			opened.Add(1)
			for {
				if _, err := stream.Recv(); err != nil {
					if ctx.Err() == nil {
						errs <- fmt.Errorf("stream %d ended: %v", i, err)
					}
					return
				}
			}
		}()
	}
	defer func() {
		for _, c := range ctxs {
			c()
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); opened.Load() < hostileStreams; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) || h.ctx.Err() != nil {
			return "", fmt.Errorf("only %d of %d streams opened", opened.Load(), hostileStreams)
		}
	}
	// A call on the full connection waits; one on another is answered.
	wait, cancel := context.WithTimeout(h.ctx, 2*time.Second)
	_, err = client.ListNotifications(as(wait, tokens[0]), &notificationv1.ListNotificationsRequest{Parent: "users/me"})
	cancel()
	if status.Code(err) != codes.DeadlineExceeded {
		var ended []string
		for len(errs) > 0 {
			ended = append(ended, (<-errs).Error())
		}
		return "", fmt.Errorf("a call on a connection with %d streams open (%d opened; ended: %v): %v, want it to wait for a slot", hostileStreams, opened.Load(), ended, err)
	}
	if n := opened.Load(); n != hostileStreams {
		return "", fmt.Errorf("%d streams open on one connection, over --grpc-max-concurrent-streams %d", n, hostileStreams)
	}
	other, err := grpc.NewClient(h.a.notification, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "", err
	}
	defer other.Close()
	short, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	_, err = notificationv1.NewNotificationServiceClient(other).ListNotifications(as(short, tokens[0]), &notificationv1.ListNotificationsRequest{Parent: "users/me"})
	cancel()
	if err != nil {
		return "", fmt.Errorf("a call on another connection: %v", err)
	}
	openMu.Lock()
	for _, c := range openOnes[:extra] {
		c()
	}
	openMu.Unlock()
	for deadline := time.Now().Add(30 * time.Second); opened.Load() < hostileStreams+extra; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			return "", fmt.Errorf("the waiting streams did not open when others ended: %d opened", opened.Load())
		}
	}
	select {
	case err := <-errs:
		return "", err
	default:
	}
	return fmt.Sprintf("%d streams asked for on one connection: %d open at most, %d waited and opened when %d ended; other connections served meanwhile",
		hostileStreams+extra, hostileStreams, extra, extra), nil
}

// hostileRawStreams: a client that ignores the server's
// SETTINGS_MAX_CONCURRENT_STREAMS opens more notification streams on one
// HTTP/2 connection than it allows (each with a token of its own user, its
// request never sent, so each stays open). The ones beyond the limit are
// reset with REFUSED_STREAM; those within it are not touched.
func hostileRawStreams(h *hostile, token func(string) string) (string, error) {
	const extra = 16
	conn, err := (&net.Dialer{}).DialContext(h.ctx, "tcp", h.a.notification)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		return "", err
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		return "", err
	}
	for i := range hostileStreams + extra {
		var block bytes.Buffer
		enc := hpack.NewEncoder(&block)
		for _, f := range []hpack.HeaderField{
			{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
			{Name: ":path", Value: notificationv1.NotificationService_StreamNotifications_FullMethodName},
			{Name: ":authority", Value: h.a.notification}, {Name: "content-type", Value: "application/grpc"},
			{Name: "te", Value: "trailers"}, {Name: "authorization", Value: "Bearer " + token(fmt.Sprintf("rawq%d", i))},
		} {
			enc.WriteField(f)
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: block.Bytes(), EndHeaders: true}); err != nil {
			return "", err
		}
	}
	refused := map[uint32]bool{}
	for len(refused) < extra {
		f, err := fr.ReadFrame()
		if err != nil {
			return "", fmt.Errorf("reading frames with %d of %d extra streams refused: %v", len(refused), extra, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.RSTStreamFrame:
			if f.StreamID <= 2*hostileStreams || f.ErrCode != http2.ErrCodeRefusedStream {
				return "", fmt.Errorf("stream %d reset with %v; want only those beyond the first %d refused", f.StreamID, f.ErrCode, hostileStreams)
			}
			refused[f.StreamID] = true
		case *http2.HeadersFrame:
			return "", fmt.Errorf("stream %d was answered before its request was sent", f.StreamID)
		case *http2.GoAwayFrame:
			return "", fmt.Errorf("GOAWAY %v", f.ErrCode)
		}
	}
	return fmt.Sprintf("%d streams opened on one raw HTTP/2 connection: %d left open, %d refused with REFUSED_STREAM",
		hostileStreams+extra, hostileStreams, len(refused)), nil
}

// hostileSlowLoris: connections that trickle their headers a byte at a
// time are cut by the read-header timeout, on the gateway and on the
// metrics listener.
func hostileSlowLoris(h *hostile) (string, error) {
	const conns = 60
	var cut atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := h.a.gateway
			if i%4 == 3 {
				addr = h.a.metrics
			}
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * hostileHeaderWait))
			if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: kinbridge\r\nX-Slow: "); err != nil {
				errs <- err
				return
			}
			closed := make(chan error, 1)
			go func() {
				_, err := io.Copy(io.Discard, conn) // ends when the server closes, or at our deadline
				closed <- err
			}()
			for {
				select {
				case err := <-closed:
					if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
						errs <- fmt.Errorf("a connection trickling its headers was not cut within %v", 10*hostileHeaderWait)
						return
					}
					cut.Add(1)
					return
				case <-time.After(200 * time.Millisecond):
					conn.Write([]byte("a"))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return "", err
	}
	return fmt.Sprintf("%d connections trickling headers a byte every 200 ms (gateway and metrics): %d cut by --http-read-header-timeout %v", conns, cut.Load(), hostileHeaderWait), nil
}

// hostileUploadSessions: one user creates tus uploads beyond
// --max-uploads-per-user: the first are created, every later one is 429
// TOO_MANY_UPLOADS with Retry-After.
func hostileUploadSessions(h *hostile, token, child string) (string, error) {
	client := &http.Client{Timeout: 20 * time.Second}
	answers := map[string]int{}
	for i := range hostileUploads + 30 {
		req, _ := http.NewRequestWithContext(h.ctx, "POST", "http://"+h.a.gateway+"/v1/uploads/", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Length", strconv.Itoa(hostileMaxPhoto))
		req.Header.Set("Upload-Metadata", tusMeta("child", child, "filename", "p.jpg", "kind", "photo"))
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.19.0.%d", i+1))
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case i < hostileUploads && resp.StatusCode == http.StatusCreated:
			answers["201"]++
		case i >= hostileUploads && resp.StatusCode == 429 && strings.Contains(string(b), errinfo.Reason(mediav1.ErrorReason_ERROR_REASON_TOO_MANY_UPLOADS)) && resp.Header.Get("Retry-After") != "":
			answers["429 TOO_MANY_UPLOADS"]++
		case i >= hostileUploads && resp.StatusCode == 429 && resp.Header.Get("Retry-After") != "":
			answers["429 "+strings.TrimSpace(firstLine(string(b)))]++
		default:
			return "", fmt.Errorf("tus creation %d: %d %s", i+1, resp.StatusCode, b)
		}
	}
	if answers["429 TOO_MANY_UPLOADS"] == 0 {
		return "", fmt.Errorf("no creation was refused as TOO_MANY_UPLOADS: %v", answers)
	}
	return fmt.Sprintf("%d tus creations: %v", hostileUploads+30, answers), nil
}

// pngChunk frames one PNG chunk.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// textBombPNG is a small PNG with zTXt chunks that inflate to 24 MiB
// together, past the ingest budget (16 MiB).
func textBombPNG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = byte(i)
	}
	var base bytes.Buffer
	png.Encode(&base, img)
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	w.Write(make([]byte, 1<<20))
	w.Close()
	text := append([]byte("Comment\x00\x00"), z.Bytes()...)
	const ihdrEnd = 8 + 25
	out := append([]byte{}, base.Bytes()[:ihdrEnd]...)
	for range 24 {
		out = append(out, pngChunk("zTXt", text)...)
	}
	return append(out, base.Bytes()[ihdrEnd:]...)
}

// hugePNG claims 60000 x 60000 pixels (3.6 billion) in a few hundred
// bytes: a decompression bomb for whatever decodes its pixels.
func hugePNG() []byte {
	const side = 60000
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], side)
	binary.BigEndian.PutUint32(ihdr[4:], side)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	w.Write(make([]byte, 4<<20)) // rows of zeros, far fewer than claimed
	w.Close()
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, pngChunk("IHDR", ihdr)...)
	out = append(out, pngChunk("IDAT", z.Bytes())...)
	return append(out, pngChunk("IEND", nil)...)
}

// hostileBombs: decompression bombs as photos. The text bomb is refused as
// malformed; the pixel bomb is refused or its item fails or is stored
// without a thumbnail; never a 500, never a crash.
func hostileBombs(h *hostile, token, child string) (string, error) {
	client := &http.Client{Timeout: 60 * time.Second}
	send := func(name string, data []byte) (int, string, error) {
		req, _ := http.NewRequestWithContext(h.ctx, "POST", "http://"+h.a.gateway+"/v1/"+child+"/media:upload?kind=photo&filename="+name, bytes.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "image/png")
		req.Header.Set("X-Forwarded-For", "198.19.1.1")
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b), nil
	}
	answers := []string{}
	text := textBombPNG()
	for range 3 {
		code, body, err := send("text.png", text)
		if err != nil {
			return "", err
		}
		if code != 400 || !strings.Contains(body, "compressed metadata") {
			return "", fmt.Errorf("a PNG whose text inflates to 24 MiB (%d bytes): %d %s, want 400 naming the compressed metadata", len(text), code, body)
		}
		answers = append(answers, fmt.Sprintf("text bomb (%d KiB): %d", len(text)>>10, code))
	}
	huge := hugePNG()
	for range 3 {
		code, body, err := send("huge.png", huge)
		if err != nil {
			return "", err
		}
		if code >= 500 {
			return "", fmt.Errorf("a PNG of 60000x60000 pixels: %d %s", code, body)
		}
		if code != 200 {
			answers = append(answers, fmt.Sprintf("pixel bomb (%d KiB): %d", len(huge)>>10, code))
			continue
		}
		var item restItem
		if err := json.Unmarshal([]byte(body), &item); err != nil {
			return "", err
		}
		for deadline := time.Now().Add(60 * time.Second); item.State == "MEDIA_STATE_PROCESSING" || item.State == ""; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				return "", fmt.Errorf("the pixel bomb %s is still %s", item.Name, item.State)
			}
			req, _ := http.NewRequestWithContext(h.ctx, "GET", "http://"+h.a.gateway+"/v1/"+item.Name, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("X-Forwarded-For", "198.19.1.1")
			resp, err := client.Do(req)
			if err != nil {
				return "", err
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return "", fmt.Errorf("GET %s: %d %s", item.Name, resp.StatusCode, b)
			}
			json.Unmarshal(b, &item)
		}
		answers = append(answers, fmt.Sprintf("pixel bomb (%d KiB): 200, then %s %s", len(huge)>>10, item.State, item.FailureReason))
	}
	return strings.Join(answers, "; "), nil
}

// hostileBurst: one user's burst, spread over both gateways (each request
// from an address of its own), draws on one bucket in Redis: about
// --rate-limit-user-burst pass in all, not twice that; the rest are 429
// with Retry-After and limit "user".
func hostileBurst(h *hostile, token string) (string, error) {
	const requests = 4 * hostileUserBurst
	var passed, limited atomic.Int64
	var failure atomic.Value
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 20 * time.Second}
	start := time.Now()
	for i := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gw := []*process{h.a, h.b}[i%2]
			req, _ := http.NewRequestWithContext(h.ctx, "GET", "http://"+gw.gateway+"/v1/children", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.20.%d.%d", i/200, i%200+1))
			resp, err := client.Do(req)
			if err != nil {
				failure.Store(err.Error())
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == 200:
				passed.Add(1)
			case resp.StatusCode == 429 && strings.Contains(string(b), `"limit":"user"`):
				if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 1 {
					failure.Store(fmt.Sprintf("429 with Retry-After %q", resp.Header.Get("Retry-After")))
				}
				limited.Add(1)
			default:
				failure.Store(fmt.Sprintf("%d %s", resp.StatusCode, b))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if f := failure.Load(); f != nil {
		return "", fmt.Errorf("a request of the burst: %v", f)
	}
	// The bucket refills while the burst lasts; one bucket per gateway
	// would let through twice the burst.
	refill := int64(elapsed.Seconds()*hostileUserRate) + 2
	figures := fmt.Sprintf("%d requests at once over two gateways in %v: %d passed, %d refused 429 (burst %d, rate %d/s)",
		requests, elapsed.Round(time.Millisecond), passed.Load(), limited.Load(), hostileUserBurst, hostileUserRate)
	if passed.Load() > hostileUserBurst+refill || limited.Load() == 0 {
		return "", fmt.Errorf("not one shared bucket: %s", figures)
	}
	return figures, nil
}
