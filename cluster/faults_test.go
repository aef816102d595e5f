//go:build cluster

package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// feed follows a user's live notifications over SSE the way EventSource
// does: when the stream ends it reconnects, through the other gateway,
// with Last-Event-ID, and counts what it receives.
type feed struct {
	mu      sync.Mutex
	seqs    map[int64]int // sequence -> times received
	resumes int           // reconnections
	lastID  string
	// start is the position the feed opened at, its first id: every
	// notification stored after it is one the feed must deliver. (The
	// inbox's newest sequence read before opening is not: a notification
	// stored between that read and the opening precedes the feed.)
	start    int64
	received chan struct{} // a notification arrived
}

// followFeed opens the feed through gateway first (0 or 1) and returns
// once it is open.
func followFeed(ctx context.Context, a *api, token string, first int) *feed {
	f := &feed{seqs: map[int64]int{}, received: make(chan struct{}, 1)}
	opened := make(chan struct{})
	go func() {
		for i := first; ctx.Err() == nil; i++ {
			f.read(ctx, a, a.gws[i%2], token, opened)
			f.mu.Lock()
			f.resumes++
			f.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond): // EventSource waits its retry: time
			}
		}
	}()
	select {
	case <-opened:
	case <-ctx.Done():
	}
	return f
}

// read follows one stream until it ends.
func (f *feed) read(ctx context.Context, a *api, gw, token string, opened chan struct{}) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, gw+"/v1/notifications/events", nil)
	if err != nil {
		return
	}
	req.Header.Set("Authorization", "Bearer "+token)
	f.mu.Lock()
	if f.lastID != "" {
		req.Header.Set("Last-Event-ID", f.lastID)
	}
	f.mu.Unlock()
	resp, err := a.http.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return
	}
	sc := bufio.NewScanner(resp.Body)
	var id, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case line == "":
			f.dispatch(id, data, opened)
			id, data = "", ""
		}
	}
}

func (f *feed) dispatch(id, data string, opened chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != "" {
		if f.lastID == "" {
			fmt.Sscan(id, &f.start)
			close(opened) // the first position: the feed is open
		}
		f.lastID = id
	}
	var n struct {
		Sequence json.Number `json:"sequence"`
	}
	if data == "" || json.Unmarshal([]byte(data), &n) != nil || n.Sequence == "" {
		return
	}
	seq, _ := n.Sequence.Int64()
	f.seqs[seq]++
	select {
	case f.received <- struct{}{}:
	default:
	}
}

// inbox lists the sequences of user's notifications.
func (a *api) inbox(ctx context.Context, user, token string) []int64 {
	a.t.Helper()
	var seqs []int64
	page := ""
	for {
		out := a.must(ctx, a.gws[0], "GET", "/v1/users/"+user+"/notifications?pageSize=1000&pageToken="+url.QueryEscape(page), token, nil)
		items, _ := out["notifications"].([]any)
		for _, it := range items {
			var seq int64
			fmt.Sscan(fmt.Sprint(it.(map[string]any)["sequence"]), &seq)
			seqs = append(seqs, seq)
		}
		page, _ = out["nextPageToken"].(string)
		if page == "" {
			return seqs
		}
	}
}

// checkFeed waits until the inbox holds at least atLeast notifications
// stored after the feed opened (their sequence above its start position),
// no more arrive for a few seconds (they are made after the writes,
// through the outbox, which a killed host's lease can hold up), and every
// one of them arrived on the feed exactly once.
func checkFeed(t *testing.T, ctx context.Context, a *api, f *feed, user, token string, atLeast int) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	lastWant, stableSince := -1, time.Now()
	for {
		var missing, doubled []int64
		want := 0
		f.mu.Lock()
		for _, seq := range a.inbox(ctx, user, token) {
			if seq <= f.start {
				continue
			}
			want++
			switch f.seqs[seq] {
			case 0:
				missing = append(missing, seq)
			case 1:
			default:
				doubled = append(doubled, seq)
			}
		}
		resumes := f.resumes
		f.mu.Unlock()
		if len(doubled) > 0 {
			t.Fatalf("the live feed delivered %v more than once", doubled)
		}
		if want != lastWant {
			lastWant, stableSince = want, time.Now()
		}
		if want >= atLeast && len(missing) == 0 && time.Since(stableSince) >= 3*time.Second {
			t.Logf("live feed: all %d notifications arrived once (%d reconnections)", want, resumes)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90s, the live feed lacks %d of the %d notifications stored since it opened (at least %d expected): %v",
				len(missing), want, atLeast, missing)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// killHostMidJourney records assessments through both gateways while
// maria follows her live feed, and kills every process of progress1's host
// while they run: each write is retried with its request id until
// acknowledged, and afterwards every one is stored exactly once, the feed
// carried every notification once, and the README's journeys still pass
// through both gateways on progress2 alone.
func killHostMidJourney(t *testing.T, ctx context.Context, c *Cluster, a *api, root string) {
	child := a.family(ctx)
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	f := followFeed(fctx, a, a.maria, 1)

	const writes = 60
	var wg sync.WaitGroup
	errs := make(chan error, writes)
	acked := make(chan int, writes)
	retried := 0
	var mu sync.Mutex
	for w := range 3 { // three writers at once, so some are in flight on progress1 as it dies
		wg.Go(func() {
			for i := w; i < writes; i += 3 {
				attempts, err := a.record(ctx, child, "kill", i)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				retried += attempts - 1
				mu.Unlock()
				acked <- i
			}
		})
	}
	// Mid-journey: after a third of the writes are acknowledged.
	for range writes / 3 {
		<-acked
	}
	c.KillHost(ctx, "progress1")
	t.Logf("killed every process of progress1 after %d of %d writes were acknowledged", writes/3, writes)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	counts := a.titles(ctx, child)
	for i := range writes {
		if n := counts[fmt.Sprintf("kill-%d", i)]; n != 1 {
			t.Errorf("assessment kill-%d is stored %d times, want once", i, n)
		}
	}
	t.Logf("%d writes acknowledged, each stored once; %d retries with the same request id", writes, retried)
	checkFeed(t, ctx, a, f, "maria", a.maria, writes) // one per assessment

	gws := c.GatewayURLs()
	readmeJourney(t, ctx, c, root, gws[0], gws[1])
	if err := c.Restart(ctx, "progress1"); err != nil {
		t.Fatal(err)
	}
}

// partitionNotification cuts notification1 off from NATS and from
// PostgreSQL (its packets to them are dropped) while assessments are
// recorded and maria follows four live feeds (through both gateways, so on
// both notification instances), then heals it: every write is stored once,
// and every feed delivers every notification once.
func partitionNotification(t *testing.T, ctx context.Context, c *Cluster, a *api) {
	child := a.family(ctx)
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	var feeds []*feed
	for i := range 4 {
		feeds = append(feeds, followFeed(fctx, a, a.maria, i))
	}
	if err := c.Partition(ctx, "notification1", "pg", "nats"); err != nil {
		t.Fatal(err)
	}
	healed := false
	heal := func() {
		if !healed {
			healed = true
			if err := c.Heal(context.WithoutCancel(ctx), "notification1", "pg", "nats"); err != nil {
				t.Error(err)
			}
		}
	}
	defer heal()
	const writes = 30
	for i := range writes {
		if i == writes*2/3 {
			heal()
			t.Logf("notification1 was cut off from NATS and PostgreSQL for %d writes", i)
		}
		if _, err := a.record(ctx, child, "part", i); err != nil {
			t.Fatal(err)
		}
	}
	counts := a.titles(ctx, child)
	for i := range writes {
		if n := counts[fmt.Sprintf("part-%d", i)]; n != 1 {
			t.Errorf("assessment part-%d is stored %d times, want once", i, n)
		}
	}
	for _, f := range feeds {
		checkFeed(t, ctx, a, f, "maria", a.maria, writes) // one per assessment
	}
}

// slowHop delays everything media1 sends by 200ms, reads media items
// through both gateways, and finds in Jaeger that each gateway call to
// media1 lasted at least the delay: the one timing the test asserts.
func slowHop(t *testing.T, ctx context.Context, c *Cluster, a *api) {
	const delay = 200 * time.Millisecond
	child := a.family(ctx)
	item := uploadPhoto(t, ctx, c, a, child)
	if err := c.Slow("media1", delay); err != nil {
		t.Fatal(err)
	}
	defer c.Slow("media1", 0)
	since := time.Now()
	for i := range 12 {
		a.must(ctx, a.gws[i%2], "GET", "/v1/"+item, a.maria, nil)
	}
	media1 := c.IP("media1")
	var slow, other []time.Duration
	deadline := time.Now().Add(30 * time.Second)
	for {
		slow, other = mediaCallDurations(t, ctx, c, a, since, media1)
		if len(slow) > 0 && len(slow)+len(other) >= 12 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if len(slow) == 0 {
		t.Fatalf("Jaeger has no gateway span of a call to media1 (%s); spans to the others: %v", media1, other)
	}
	for _, d := range slow {
		if d < delay {
			t.Errorf("a gateway call to slowed media1 took %s in Jaeger, less than the %s injected", d, delay)
		}
	}
	t.Logf("gateway -> media1 spans with %s injected: %v; to media2: %v", delay, slow, other)
}

// mediaCallDurations returns the durations of the gateway's client spans
// of GetMediaItem since since, to media1's address and to the others.
func mediaCallDurations(t *testing.T, ctx context.Context, c *Cluster, a *api, since time.Time, media1 string) (slow, other []time.Duration) {
	q := url.Values{"service": {"gateway"}, "operation": {"kinbridge.media.v1.MediaService/GetMediaItem"},
		"start": {fmt.Sprint(since.UnixMicro())}, "limit": {"100"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.JaegerURL()+"/api/traces?"+q.Encode(), nil)
	resp, err := a.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data []struct {
			Spans []struct {
				OperationName string `json:"operationName"`
				Duration      int64  `json:"duration"` // microseconds
				Tags          []struct {
					Key   string `json:"key"`
					Value any    `json:"value"`
				} `json:"tags"`
			} `json:"spans"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	for _, tr := range out.Data {
		for _, s := range tr.Spans {
			if s.OperationName != "kinbridge.media.v1.MediaService/GetMediaItem" {
				continue
			}
			tags := map[string]string{}
			for _, tag := range s.Tags {
				tags[tag.Key] = fmt.Sprint(tag.Value)
			}
			if tags["span.kind"] != "client" {
				continue
			}
			d := time.Duration(s.Duration) * time.Microsecond
			if tags["server.address"] == media1 {
				slow = append(slow, d)
			} else {
				other = append(other, d)
			}
		}
	}
	return slow, other
}

// uploadPhoto uploads the README's test photo in one request and returns
// the item's name.
func uploadPhoto(t *testing.T, ctx context.Context, c *Cluster, a *api, child string) string {
	t.Helper()
	out, err := c.Command(ctx, "curl", "-sS", "-X", "POST", a.gws[0]+"/v1/"+child+"/media:upload?title=Photo&kind=photo",
		"-H", "Authorization: Bearer "+a.teacher, "--data-binary", "@services/media/ingest/testdata/gps.jpg").Output()
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	name := regexp.MustCompile(`children/[a-z0-9]+/media/[a-z0-9]+`).Find(out)
	if name == nil {
		t.Fatalf("upload answered %s", out)
	}
	return string(name)
}
