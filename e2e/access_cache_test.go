//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// TestSharedAccessCache: a split deployment with two media instances and a
// notification instance on one Redis, remembering access answers for an
// hour. A guardian's answers, asked on one media instance, serve the other
// (a shared hit in its metrics); once the guardian is revoked, their next
// call on every instance is refused, an hour early, because progress
// dropped the child's answers from Redis. Granted again, they are let in
// again at once.
func TestSharedAccessCache(t *testing.T) {
	redisURL := testenv.Redis(t)
	dataDir := t.TempDir()
	progressAddr, notificationAddr := freePort(t), freePort(t)
	shared := []string{"--redis-url", redisURL, "--access-cache-ttl", "1h", "--guardian-cache-ttl", "1h"}
	first := start(t, "progress", dataDir, nil, append([]string{"--progress-listen", progressAddr, "--notification-addr", notificationAddr,
		"--media-addr", "127.0.0.1:1", "--metrics-listen", ""}, shared...)...)
	start(t, "notification", dataDir, nil, append([]string{"--notification-listen", notificationAddr, "--progress-addr", progressAddr,
		"--metrics-listen", ""}, shared...)...)
	var medias []*process
	for range 2 {
		medias = append(medias, start(t, "media", dataDir, nil, append([]string{"--media-listen", "127.0.0.1:0", "--progress-addr", progressAddr,
			"--notification-addr", notificationAddr, "--metrics-listen", "127.0.0.1:0"}, shared...)...))
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, grace := first.adminToken, issueToken(t, dataDir, "grace")
	progress := progressv1.NewProgressServiceClient(dialGRPC(t, progressAddr))
	child, err := progress.CreateChild(as(ctx, admin), &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: "Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	grant := func() {
		t.Helper()
		if _, err := progress.CreateGuardianship(as(ctx, admin), &progressv1.CreateGuardianshipRequest{Parent: child.Name,
			Guardianship: &progressv1.Guardianship{User: "grace", Role: progressv1.Role_ROLE_GUARDIAN}}); err != nil {
			t.Fatal(err)
		}
	}
	grant()

	var clients []mediav1.MediaServiceClient
	for _, m := range medias {
		clients = append(clients, mediav1.NewMediaServiceClient(dialGRPC(t, m.media)))
	}
	notification := notificationv1.NewNotificationServiceClient(dialGRPC(t, notificationAddr))
	list := func(i int) codes.Code {
		_, err := clients[i].ListMediaItems(as(ctx, grace), &mediav1.ListMediaItemsRequest{Parent: child.Name})
		return status.Code(err)
	}
	// follow subscribes grace to the child: OK, or ALREADY_EXISTS once she
	// follows it (a revocation keeps her settings), both mean she was let in.
	follow := func() codes.Code {
		_, err := notification.CreateSubscription(as(ctx, grace), &notificationv1.CreateSubscriptionRequest{Parent: "users/me",
			Subscription: &notificationv1.Subscription{Child: child.Name}})
		if status.Code(err) == codes.AlreadyExists {
			return codes.OK
		}
		return status.Code(err)
	}
	wantCodes := func(when string, want codes.Code) {
		t.Helper()
		if a, b, n := list(0), list(1), follow(); a != want || b != want || n != want {
			t.Fatalf("%s: media instances answer %v and %v, notification %v; want %v", when, a, b, n, want)
		}
	}

	if code := list(0); code != codes.OK {
		t.Fatalf("listing on the first media instance: %v", code)
	}
	hits := sharedHits(t, medias[1].metrics)
	wantCodes("a guardian", codes.OK)
	if got := sharedHits(t, medias[1].metrics); got <= hits {
		t.Errorf("the second media instance counted %v shared hits, as before; it asked progress itself", got)
	}

	if _, err := progress.DeleteGuardianship(as(ctx, admin), &progressv1.DeleteGuardianshipRequest{Name: child.Name + "/guardians/grace"}); err != nil {
		t.Fatal(err)
	}
	wantCodes("revoked", codes.NotFound)
	grant()
	wantCodes("granted again", codes.OK)
}

// sharedHits reads a media instance's shared-cache hits from its metrics
// (0 before the first).
func sharedHits(t *testing.T, metricsAddr string) float64 {
	t.Helper()
	n, _ := metricValue(t, metricsAddr, "kinbridge_access_cache_lookups_total", "kinbridge_access_cache", "shared", "kinbridge_access_outcome", "hit")
	return n
}
