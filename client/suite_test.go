package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/kinbridge/kinbridge/client"

	mediapeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/peer/v1"
	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	"github.com/kinbridge/kinbridge/pkg/access"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/grpcclient"
	"github.com/kinbridge/kinbridge/pkg/grpcserver"
	"github.com/kinbridge/kinbridge/services/media"
	"github.com/kinbridge/kinbridge/services/notification"
	"github.com/kinbridge/kinbridge/services/notification/fanout"
	"github.com/kinbridge/kinbridge/services/progress"
)

// The tests of this package (and its example) run against a real suite:
// progress, media and notification started in this process by TestMain,
// each a gRPC server on an ephemeral loopback port, with SQLite databases
// and local blobs in a temporary directory. They talk to each other over
// real gRPC, as `kinbridge serve all` does.

// suite is where the services listen and how to mint tokens for them.
var suite struct {
	progress, media, notification string
	issuer                        *auth.UserIssuer
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kinbridge-client-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	stop, err := startSuite(ctx, dir)
	if err != nil {
		cancel()
		fmt.Fprintln(os.Stderr, "starting the suite:", err)
		return 1
	}
	code := m.Run()
	cancel()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the suite:", err)
		return 1
	}
	// Every upload, download and follower has ended its streams and
	// timers, and the suite its servers.
	if err := goleak.Find(); code == 0 && err != nil {
		fmt.Fprintln(os.Stderr, "goroutines left:", err)
		return 1
	}
	return code
}

// startSuite starts the three services; stop waits for them to end once
// ctx is done, and closes what they hold.
func startSuite(ctx context.Context, dir string) (stop func() error, err error) {
	_, userKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	_, serviceKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	suite.issuer = auth.NewUserIssuer(userKey)
	verifier, err := auth.NewVerifier(auth.VerifierConfig{
		UserKey: userKey.Public().(ed25519.PublicKey), ServiceKey: serviceKey.Public().(ed25519.PublicKey)})
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	var closers []func() error
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var runErrs []error
	goRun := func(f func() error) {
		wg.Go(func() {
			if err := f(); err != nil && !errors.Is(err, context.Canceled) {
				errMu.Lock()
				runErrs = append(runErrs, err)
				errMu.Unlock()
			}
		})
	}
	stop = func() error {
		wg.Wait()
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i]()
		}
		return errors.Join(runErrs...)
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()

	lis := map[string]net.Listener{}
	for _, name := range []string{"progress", "media", "notification"} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return stop, err
		}
		lis[name] = l
		closers = append(closers, func() error { l.Close(); return nil })
	}
	suite.progress, suite.media, suite.notification = lis["progress"].Addr().String(), lis["media"].Addr().String(), lis["notification"].Addr().String()

	dial := func(caller, target string) (*grpc.ClientConn, error) {
		conn, err := grpcclient.New(target, grpcclient.Options{Credentials: auth.NewServiceIdentity(serviceKey, caller)})
		if err == nil {
			closers = append(closers, conn.Close)
		}
		return conn, err
	}
	serve := func(name string, register func(grpc.ServiceRegistrar)) error {
		srv, err := grpcserver.New(grpcserver.Options{Logger: logger, Verifier: verifier})
		if err != nil {
			return err
		}
		register(srv)
		goRun(func() error { return srv.Serve(ctx, lis[name], time.Second) })
		return nil
	}
	db := func(name string) string { return "sqlite:" + filepath.Join(dir, name+".db") }

	toNotification, err := dial("progress", suite.notification)
	if err != nil {
		return stop, err
	}
	toMedia, err := dial("progress", suite.media)
	if err != nil {
		return stop, err
	}
	prog, err := progress.New(ctx, progress.Config{DSN: db("progress"), Logger: logger,
		Publisher: notificationpeerv1.NewPublishServiceClient(toNotification),
		Media:     mediapeerv1.NewChildDataServiceClient(toMedia)})
	if err != nil {
		return stop, err
	}
	closers = append(closers, prog.Close)
	goRun(func() error { return prog.Run(ctx) })
	if err := serve("progress", prog.Register); err != nil {
		return stop, err
	}

	mediaToProgress, err := dial("media", suite.progress)
	if err != nil {
		return stop, err
	}
	mediaToNotification, err := dial("media", suite.notification)
	if err != nil {
		return stop, err
	}
	med, err := media.New(ctx, media.Config{DSN: db("media"), BlobURL: filepath.Join(dir, "blobs"), TempDir: filepath.Join(dir, "uploads"),
		Access:    access.New(progresspeerv1.NewAccessServiceClient(mediaToProgress), time.Second),
		Publisher: notificationpeerv1.NewPublishServiceClient(mediaToNotification),
		Logger:    logger})
	if err != nil {
		return stop, err
	}
	closers = append(closers, med.Close)
	goRun(func() error { return med.Run(ctx) })
	if err := serve("media", med.Register); err != nil {
		return stop, err
	}

	notificationToProgress, err := dial("notification", suite.progress)
	if err != nil {
		return stop, err
	}
	bus := fanout.NewLocal()
	closers = append(closers, func() error { bus.Close(); return nil })
	notif, err := notification.New(ctx, notification.Config{DSN: db("notification"), Bus: bus, Logger: logger,
		Progress: progresspeerv1.NewAccessServiceClient(notificationToProgress),
		Access:   access.New(progresspeerv1.NewAccessServiceClient(notificationToProgress), time.Second)})
	if err != nil {
		return stop, err
	}
	closers = append(closers, notif.Close)
	goRun(func() error { return notif.Run(ctx) })
	if err := serve("notification", notif.Register); err != nil {
		return stop, err
	}
	return stop, nil
}

// token mints a token for user, valid for an hour.
func token(user string, admin bool) string {
	tok, err := suite.issuer.Issue(user, admin, time.Hour)
	if err != nil {
		panic(err) // a fixed key and a fixed name: never
	}
	return tok
}

// dial returns a client of the suite for user, closed when t ends.
func dial(t testing.TB, user string, admin bool, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(suite.progress, append([]client.Option{client.WithToken(token(user, admin)),
		client.WithMediaAddr(suite.media), client.WithNotificationAddr(suite.notification)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
