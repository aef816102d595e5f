package fanout_test

import (
	"encoding/base64"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/notification/fanout"
)

func TestDeploymentName(t *testing.T) {
	one, err := fanout.DeploymentName(secret(1))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := fanout.DeploymentName(secret(1))
	two, _ := fanout.DeploymentName(secret(2))
	if one != again {
		t.Errorf("one secret gave two names: %q, %q", one, again)
	}
	if one == two {
		t.Errorf("two secrets gave one name %q", one)
	}
	for _, name := range []string{one, two} {
		if len(name) != 16 || fanout.ValidateDeploymentName(name) != nil {
			t.Errorf("derived name %q is not 16 characters of a valid name", name)
		}
	}
	if _, err := fanout.DeploymentName(secret(1)[1:]); !errors.Is(err, fanout.ErrInvalid) {
		t.Errorf("DeploymentName of a short secret: %v, want ErrInvalid", err)
	}
}

func TestValidateDeploymentName(t *testing.T) {
	for _, ok := range []string{"a", "prod", "Prod-EU_2", strings.Repeat("z", 64), "user"} {
		if err := fanout.ValidateDeploymentName(ok); err != nil {
			t.Errorf("ValidateDeploymentName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a.b", "*", ">", "a*", "a>", "a b", "a\tb", "a\nb", "a\x00", "$SYS", "élève", "a/b",
		strings.Repeat("z", 65)} {
		err := fanout.ValidateDeploymentName(bad)
		if !errors.Is(err, fanout.ErrInvalid) {
			t.Errorf("ValidateDeploymentName(%q): %v, want ErrInvalid", bad, err)
			continue
		}
		if !strings.Contains(err.Error(), "letters, digits, '-' or '_'") {
			t.Errorf("ValidateDeploymentName(%q): %q does not say what a name may be", bad, err)
		}
	}
}

// sharedNATS returns the machine's NATS server and a subject prefix of the test's own: other
// tests and test binaries use the server at the same time.
func sharedNATS(t *testing.T) (url, prefix string) {
	t.Helper()
	return testenv.NATS(t), testenv.NATSPrefix(t)
}

// wantRejected waits until reader has counted unsigned messages rejected for want of a MAC and
// badMAC ones rejected for a MAC that does not verify. A message that should have been
// rejected and was delivered instead is never counted, and the wait fails.
func wantRejected(t *testing.T, reader *sdkmetric.ManualReader, unsigned, badMAC int64) {
	t.Helper()
	var gotUnsigned, gotBad int64
	deadline := time.Now().Add(waitLimit)
	for {
		gotUnsigned, _ = value(t, reader, "kinbridge.notification.nats_rejected", attribute.String("reason", "unsigned"))
		gotBad, _ = value(t, reader, "kinbridge.notification.nats_rejected", attribute.String("reason", "bad_mac"))
		if gotUnsigned == unsigned && gotBad == badMAC {
			return
		}
		if gotUnsigned > unsigned || gotBad > badMAC || time.Now().After(deadline) {
			t.Fatalf("rejected: %d unsigned, %d with a bad MAC; want %d and %d", gotUnsigned, gotBad, unsigned, badMAC)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wantNothing checks that nothing waits on the subscriptions.
func wantNothing(t *testing.T, subs ...*fanout.Subscription) {
	t.Helper()
	for _, s := range subs {
		if n := len(s.C()); n != 0 {
			t.Fatalf("%d messages were delivered to %q that should not have been; the first: %+v", n, s.User(), *<-s.C())
		}
	}
}

// TestNATSDeploymentsHearOnlyThemselves runs deployments side by side on the machine's NATS
// server: instances of one deployment hear each other, and not another deployment's, whether
// their names differ (derived from different secrets) or are set to the same.
func TestNATSDeploymentsHearOnlyThemselves(t *testing.T) {
	url, p := sharedNATS(t)
	bus := func(d fanout.Deployment, opts ...fanout.Option) *fanout.NATS {
		return newDeploymentBus(t, connect(t, url, nil), p, d, opts...)
	}

	t.Run("default names", func(t *testing.T) {
		a, b := fanout.Deployment{Secret: secret(1)}, fanout.Deployment{Secret: secret(2)}
		a1, a2, b1, b2 := bus(a), bus(a), bus(b), bus(b)
		atA2, atB1 := subscribe(t, a2, "alice", 10), subscribe(t, b1, "alice", 10)
		publish(t, a1, "alice", 1)
		wantNext(t, atA2, 1)
		// The server handled a1's message before b2 publishes: had it been routed to b1, it
		// would arrive there first.
		publish(t, b2, "alice", 2)
		wantNext(t, atB1, 2)
		publish(t, b2, "alice", 3)
		wantNext(t, atB1, 3)
		publish(t, a1, "alice", 4)
		wantNext(t, atA2, 4)
	})

	t.Run("one name, two secrets", func(t *testing.T) {
		mp, reader := meter(t)
		c, d := fanout.Deployment{Secret: secret(3), Name: "shared"}, fanout.Deployment{Secret: secret(4), Name: "shared"}
		c1, c2, d1 := bus(c, fanout.WithMeterProvider(mp)), bus(c), bus(d)
		atC1 := subscribe(t, c1, "alice", 10)
		// Same subject: c1 receives d1's message, and drops it.
		publish(t, d1, "alice", 1)
		wantRejected(t, reader, 0, 1)
		wantNothing(t, atC1)
		publish(t, c2, "alice", 2)
		wantNext(t, atC1, 2)
	})
}

// clone returns a copy of m that can be changed without changing m.
func clone(m *nats.Msg) *nats.Msg {
	h := maps.Clone(m.Header)
	for k, v := range h {
		h[k] = slices.Clone(v)
	}
	return &nats.Msg{Subject: m.Subject, Header: h, Data: slices.Clone(m.Data)}
}

// capture returns the next message NATS carries on subject after send runs.
func capture(t *testing.T, nc *nats.Conn, subject string, send func()) *nats.Msg {
	t.Helper()
	spy, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	send()
	m, err := spy.NextMsg(waitLimit)
	if err != nil {
		t.Fatalf("nothing on %s: %v", subject, err)
	}
	return m
}

// TestNATSRejectsForgeries publishes on the machine's NATS server what a bus of the deployment
// did not send: messages without a MAC, with a wrong one, changed after signing, or moved to
// another subject or deployment. None is delivered; each is counted, and the log says so at a
// bounded rate.
func TestNATSRejectsForgeries(t *testing.T) {
	url, p := sharedNATS(t)
	logger, logs := testLogger(t)
	mp, reader := meter(t)
	otherMP, otherReader := meter(t)
	pub := newNATSBus(t, connect(t, url, nil), p)
	sub := newNATSBus(t, connect(t, url, nil), p, fanout.WithLogger(logger), fanout.WithMeterProvider(mp))
	other := newDeploymentBus(t, connect(t, url, nil), p, fanout.Deployment{Secret: secret(2)}, fanout.WithMeterProvider(otherMP))
	clock := testenv.NewClock(time.Now())
	fanout.SetClock(sub, clock.Now)
	alice, bob := subscribe(t, sub, "alice", 100), subscribe(t, sub, "bob", 100)
	otherAlice := subscribe(t, other, "alice", 100)
	raw := connect(t, url, nil)
	aliceSubject, bobSubject := fanout.SubjectFor(sub, "alice"), fanout.SubjectFor(sub, "bob")

	// Genuine messages as NATS carries them: alice's with a trace, and one of the other
	// deployment.
	ts, _ := trace.ParseTraceState("kinbridge=1")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled, TraceState: ts})
	genuine := capture(t, raw, aliceSubject, func() {
		if err := pub.Publish(trace.ContextWithSpanContext(t.Context(), sc), msg("alice", 1)); err != nil {
			t.Fatal(err)
		}
	})
	wantNext(t, alice, 1)
	if genuine.Header.Get("traceparent") == "" || genuine.Header.Get("Kinbridge-Mac") == "" {
		t.Fatalf("the captured message lacks a trace or a MAC: %v", genuine.Header)
	}
	foreign := capture(t, raw, fanout.SubjectFor(other, "alice"), func() { publish(t, other, "alice", 1) })
	wantNext(t, otherAlice, 1)

	type forgery struct {
		msg    *nats.Msg
		signed bool // counted as bad_mac rather than unsigned
		other  bool // aimed at the other deployment
	}
	forge := func(change func(m *nats.Msg)) *nats.Msg {
		m := clone(genuine)
		change(m)
		return m
	}
	forgeries := map[string]forgery{
		"no MAC":      {msg: forge(func(m *nats.Msg) { delete(m.Header, "Kinbridge-Mac") })},
		"no headers":  {msg: &nats.Msg{Subject: aliceSubject, Data: genuine.Data}},
		"random MAC":  {signed: true, msg: forge(func(m *nats.Msg) { m.Header.Set("Kinbridge-Mac", base64.RawURLEncoding.EncodeToString(secret(9))) })},
		"MAC garbled": {signed: true, msg: forge(func(m *nats.Msg) { m.Header.Set("Kinbridge-Mac", "%%%") })},
		"two MACs": {signed: true, msg: forge(func(m *nats.Msg) {
			m.Header["Kinbridge-Mac"] = append(m.Header["Kinbridge-Mac"], m.Header["Kinbridge-Mac"][0])
		})},
		"payload changed":  {signed: true, msg: forge(func(m *nats.Msg) { m.Data[len(m.Data)-1] ^= 1 })},
		"payload extended": {signed: true, msg: forge(func(m *nats.Msg) { m.Data = append(m.Data, '!') })},
		"payload emptied":  {signed: true, msg: forge(func(m *nats.Msg) { m.Data = nil })},
		"sequence changed": {signed: true, msg: forge(func(m *nats.Msg) { m.Header.Set("Kinbridge-Sequence", "2") })},
		"origin changed":   {signed: true, msg: forge(func(m *nats.Msg) { m.Header.Set("Kinbridge-Origin", "someone") })},
		"trace changed": {signed: true, msg: forge(func(m *nats.Msg) {
			m.Header.Set("traceparent", strings.Replace(m.Header.Get("traceparent"), "01", "03", 1))
		})},
		"trace removed":   {signed: true, msg: forge(func(m *nats.Msg) { delete(m.Header, "traceparent") })},
		"header added":    {signed: true, msg: forge(func(m *nats.Msg) { m.Header.Set("X-Extra", "1") })},
		"to another user": {signed: true, msg: forge(func(m *nats.Msg) { m.Subject = bobSubject })},
		"another deployment's message": {signed: true, msg: func() *nats.Msg {
			m := clone(foreign)
			m.Subject = aliceSubject
			return m
		}()},
		"to another deployment": {signed: true, other: true, msg: forge(func(m *nats.Msg) { m.Subject = fanout.SubjectFor(other, "alice") })},
	}
	var unsigned, badMAC, otherBadMAC int64
	for name, f := range forgeries {
		if err := raw.PublishMsg(f.msg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		switch {
		case f.other:
			otherBadMAC++
		case f.signed:
			badMAC++
		default:
			unsigned++
		}
	}
	wantRejected(t, reader, unsigned, badMAC)
	wantRejected(t, otherReader, 0, otherBadMAC)
	wantNothing(t, alice, bob, otherAlice)

	// The genuine message again, on its own subject, verifies: it is a duplicate, which streams
	// skip by sequence. Then live delivery goes on.
	if err := raw.PublishMsg(genuine); err != nil {
		t.Fatal(err)
	}
	wantNext(t, alice, 1)
	publish(t, pub, "alice", 2)
	wantNext(t, alice, 2)
	publish(t, pub, "bob", 1)
	wantNext(t, bob, 1)

	// One line for the lot; the next one, a minute later, says how many went unlogged.
	const line = "fanout: dropped a NATS message not authenticated as this deployment's"
	if n := strings.Count(logs.String(), line); n != 1 {
		t.Fatalf("%d log lines for %d rejected messages within a minute, want 1", n, unsigned+badMAC)
	}
	clock.Advance(time.Minute)
	if err := raw.PublishMsg(forgeries["no MAC"].msg); err != nil {
		t.Fatal(err)
	}
	wantRejected(t, reader, unsigned+1, badMAC)
	if n := strings.Count(logs.String(), line); n != 2 {
		t.Fatalf("%d log lines after a minute, want 2", n)
	}
	if want := "dropped_unlogged=" + strconv.FormatInt(unsigned+badMAC-1, 10); !strings.Contains(logs.String(), want) {
		t.Errorf("the second line does not say %s", want)
	}
}

// oldFormat returns a message as the release before deployments were told apart sent it: on
// the subject shared by every deployment, without a MAC.
func oldFormat(prefix, user, seq string) *nats.Msg {
	return &nats.Msg{
		Subject: fanout.LegacySubjectFor(prefix, user),
		Header:  nats.Header{"Kinbridge-Origin": {"old-instance"}, "Kinbridge-Sequence": {seq}},
		Data:    []byte(user + "#" + seq),
	}
}

// TestNATSAcceptUnsigned plays a rolling upgrade on the machine's NATS server: an old instance
// (the old format, spoken by hand), upgraded instances with AcceptUnsigned, and one without.
// The old and the upgraded instances hear each other, each message once; without the setting
// nothing unsigned is heard; with it a wrong MAC is still refused.
func TestNATSAcceptUnsigned(t *testing.T) {
	url, p := sharedNATS(t)
	logger, logs := testLogger(t)
	mp, reader := meter(t)
	upgrade := fanout.Deployment{Secret: secret(1), AcceptUnsigned: true}
	upConn := connect(t, url, nil)
	strict := newNATSBus(t, connect(t, url, nil), p)
	up := newDeploymentBus(t, upConn, p, upgrade, fanout.WithLogger(logger), fanout.WithMeterProvider(mp))
	up2 := newDeploymentBus(t, connect(t, url, nil), p, upgrade)
	raw := connect(t, url, nil)
	old, err := raw.SubscribeSync(fanout.LegacySubjectFor(p, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Flush(); err != nil {
		t.Fatal(err)
	}
	// wantOld checks what the old instance receives next, read as it reads it.
	wantOld := func(seq string) {
		t.Helper()
		m, err := old.NextMsg(waitLimit)
		if err != nil {
			t.Fatalf("the old instance got nothing: %v", err)
		}
		if m.Header.Get("Kinbridge-Origin") == "" || m.Header.Get("Kinbridge-Sequence") != seq || string(m.Data) != "alice#"+seq {
			t.Fatalf("the old instance got %v %q, want sequence %s", m.Header, m.Data, seq)
		}
	}
	atStrict, atUp, atUp2 := subscribe(t, strict, "alice", 10), subscribe(t, up, "alice", 10), subscribe(t, up2, "alice", 10)
	if n := upConn.NumSubscriptions(); n != 2 {
		t.Errorf("the upgrading bus has %d NATS subscriptions for one user, want 2: its subject and the old one", n)
	}
	if !strings.Contains(logs.String(), "also hearing unsigned messages") {
		t.Errorf("no warning that unsigned messages are heard; logs:\n%s", logs)
	}

	// The old instance publishes: the upgraded instances hear it, the strict one does not (it
	// would have got it before 2, which the server handled later).
	if err := raw.PublishMsg(oldFormat(p, "alice", "1")); err != nil {
		t.Fatal(err)
	}
	wantOld("1") // its own echo
	wantNext(t, atUp, 1)
	wantNext(t, atUp2, 1)

	// An upgraded instance publishes: the old instance gets it in its format, every new instance
	// once.
	publish(t, up, "alice", 2)
	wantOld("2")
	wantNext(t, atStrict, 2)
	wantNext(t, atUp, 2)
	wantNext(t, atUp2, 2)

	// The strict instance publishes on its deployment's subject only: the old instance misses it.
	publish(t, strict, "alice", 3)
	wantNext(t, atUp, 3)
	wantNext(t, atUp2, 3)
	publish(t, up2, "alice", 4)
	wantOld("4")
	wantNext(t, atStrict, 3, 4)
	wantNext(t, atUp, 4)
	wantNext(t, atUp2, 4)

	// Still refused with the setting: unsigned on the deployment's subject; on the old subject a
	// MAC that does not verify, such as another upgrading deployment's.
	unsigned := oldFormat(p, "alice", "5")
	unsigned.Subject = fanout.SubjectFor(up, "alice")
	forged := oldFormat(p, "alice", "5")
	forged.Header.Set("Kinbridge-Mac", base64.RawURLEncoding.EncodeToString(secret(9)))
	for _, m := range []*nats.Msg{unsigned, forged} {
		if err := raw.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := raw.Flush(); err != nil { // the server has them before the next publisher's message
		t.Fatal(err)
	}
	otherUpgrade := newDeploymentBus(t, connect(t, url, nil), p, fanout.Deployment{Secret: secret(2), AcceptUnsigned: true})
	publish(t, otherUpgrade, "alice", 6)
	wantOld("5") // forged, which an old instance cannot tell
	wantOld("6")
	wantRejected(t, reader, 1, 2)
	// An old-format message the old release would not deliver either.
	if err := raw.PublishMsg(oldFormat(p, "alice", "x")); err != nil {
		t.Fatal(err)
	}
	if err := raw.PublishMsg(oldFormat(p, "alice", "7")); err != nil {
		t.Fatal(err)
	}
	wantNext(t, atUp, 7)
	wantNothing(t, atStrict)
	if !strings.Contains(logs.String(), "ignoring a NATS message without a valid sequence") {
		t.Errorf("no warning about the message without a sequence; logs:\n%s", logs)
	}
}
