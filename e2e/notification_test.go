//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
)

// freePort returns a loopback address nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().String()
}

// as returns ctx carrying a bearer token.
func as(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func dialGRPC(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// assessmentsIn counts the assessment notifications in a user's inbox by
// title, so a duplicate shows up as a count of 2.
func assessmentsIn(t *testing.T, client notificationv1.NotificationServiceClient, token string) map[string]int {
	t.Helper()
	seen := map[string]int{}
	page := ""
	for {
		ctx, cancel := context.WithTimeout(as(context.Background(), token), 10*time.Second)
		resp, err := client.ListNotifications(ctx, &notificationv1.ListNotificationsRequest{Parent: "users/me", PageSize: 1000, PageToken: page})
		cancel()
		if err != nil {
			return nil // the service may be restarting
		}
		for _, n := range resp.GetNotifications() {
			if n.GetType() == notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED {
				seen[n.GetBody()]++
			}
		}
		if page = resp.GetNextPageToken(); page == "" {
			return seen
		}
	}
}

// TestNotificationKilledDuringBurst SIGKILLs the notification process while
// 1,000 assessments are being recorded. The outbox keeps every event until
// it is delivered and notification de-duplicates redeliveries, so after a
// restart every guardian's inbox holds exactly 1,000 new notifications.
func TestNotificationKilledDuringBurst(t *testing.T) {
	dataDir := t.TempDir()
	progressAddr, notificationAddr := freePort(t), freePort(t)
	progress := start(t, "progress", dataDir, nil, "--progress-listen", progressAddr, "--notification-addr", notificationAddr, "--metrics-listen", "")
	notification := start(t, "notification", dataDir, nil, "--notification-listen", notificationAddr, "--progress-addr", progressAddr, "--metrics-listen", "")

	key, err := auth.LoadKey(dataDir + "/keys/user.pem")
	if err != nil {
		t.Fatal(err)
	}
	token := func(user string, admin bool) string {
		tok, err := auth.NewUserIssuer(key).Issue(user, admin, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	admin, teacher := token("admin", true), token("teacher", false)
	guardians := map[string]string{"maria": token("maria", false), "joao": token("joao", false), "teacher": teacher}

	ctx := context.Background()
	progressClient := progressv1.NewProgressServiceClient(dialGRPC(t, progressAddr))
	child, err := progressClient.CreateChild(as(ctx, admin), &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: "Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	for user, role := range map[string]progressv1.Role{"maria": progressv1.Role_ROLE_GUARDIAN, "joao": progressv1.Role_ROLE_GUARDIAN, "teacher": progressv1.Role_ROLE_CONTRIBUTOR} {
		if _, err := progressClient.CreateGuardianship(as(ctx, admin), &progressv1.CreateGuardianshipRequest{Parent: child.Name,
			Guardianship: &progressv1.Guardianship{User: user, Role: role}}); err != nil {
			t.Fatal(err)
		}
	}

	const total = 1000
	var recorded atomic.Int64
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				_, err := progressClient.CreateAssessment(as(ctx, teacher), &progressv1.CreateAssessmentRequest{
					Parent: child.Name, RequestId: fmt.Sprintf("burst-%d", i),
					Assessment: &progressv1.Assessment{Subject: "Math", Title: fmt.Sprintf("burst %04d", i),
						Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_HOMEWORK, AssessedDate: "2026-03-01"}})
				if err != nil {
					t.Errorf("record %d: %v", i, err)
					continue
				}
				recorded.Add(1)
			}
		}()
	}
	killed := make(chan struct{})
	go func() {
		for i := range total {
			if i == total/4 {
				notification.kill(t) // mid-burst, as a crash
				close(killed)
			}
			work <- i
		}
		close(work)
	}()
	<-killed
	time.Sleep(500 * time.Millisecond) // the burst goes on while notification is down
	start(t, "notification", dataDir, nil, "--notification-listen", notificationAddr, "--progress-addr", progressAddr, "--metrics-listen", "")
	wg.Wait()
	if recorded.Load() != total {
		t.Fatalf("recorded %d of %d", recorded.Load(), total)
	}

	inbox := notificationv1.NewNotificationServiceClient(dialGRPC(t, notificationAddr))
	deadline := time.Now().Add(3 * time.Minute)
	for user, tok := range guardians {
		for {
			seen := assessmentsIn(t, inbox, tok)
			if len(seen) == total {
				for title, n := range seen {
					if n != 1 {
						t.Errorf("%s received %q %d times", user, title, n)
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s has %d of %d notifications; progress stderr:\n%s", user, len(seen), total, progress.stderr)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}
