package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"

	"github.com/kinbridge/kinbridge/client"
	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

// A family's journey: an administrator registers a child with a
// grandmother as guardian and a teacher as contributor; the teacher records
// a quiz and uploads a drawing; the grandmother reads about the quiz in her
// live feed.
func Example() {
	ctx := context.Background()
	// Every person has a client of their own, with their token. The
	// suite's services listen on their own ports, as `kinbridge serve all`
	// runs them.
	connect := func(tok string) *client.Client {
		c, err := client.New(suite.progress, client.WithToken(tok),
			client.WithMediaAddr(suite.media), client.WithNotificationAddr(suite.notification))
		if err != nil {
			log.Fatal(err)
		}
		return c
	}
	admin := connect(token("admin", true))
	defer admin.Close()
	teacher := connect(token("lee", false))
	defer teacher.Close()
	nana := connect(token("nana", false))
	defer nana.Close()

	child, err := admin.Progress().CreateChild(ctx, &progressv1.CreateChildRequest{Child: &progressv1.Child{
		DisplayName: "Ada", BirthDate: "2017-05-02", TimeZone: "Europe/Lisbon"}})
	if err != nil {
		log.Fatal(err)
	}
	for user, role := range map[string]progressv1.Role{"nana": progressv1.Role_ROLE_GUARDIAN, "lee": progressv1.Role_ROLE_CONTRIBUTOR} {
		if _, err := admin.Progress().CreateGuardianship(ctx, &progressv1.CreateGuardianshipRequest{
			Parent: child.GetName(), Guardianship: &progressv1.Guardianship{User: user, Role: role}}); err != nil {
			log.Fatal(err)
		}
	}

	quiz, err := teacher.Progress().CreateAssessment(ctx, &progressv1.CreateAssessmentRequest{Parent: child.GetName(),
		Assessment: &progressv1.Assessment{Subject: "Math", Title: "Fractions quiz", Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_TEST,
			AssessedDate: "2026-03-01", Score: &progressv1.Score{Value: &progressv1.Score_Points{Points: &progressv1.Points{Earned: 9, Possible: 10}}}}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("recorded:", quiz.GetTitle())

	// A small drawing; Upload takes any io.ReaderAt (UploadFile an open
	// file, which it can also resume after a crash).
	drawing := image.NewRGBA(image.Rect(0, 0, 8, 8))
	drawing.Set(3, 3, color.RGBA{B: 255, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, drawing); err != nil {
		log.Fatal(err)
	}
	item, err := teacher.Upload(ctx, bytes.NewReader(b.Bytes()), int64(b.Len()), &mediav1.UploadMetadata{
		Parent: child.GetName(), Kind: mediav1.MediaKind_MEDIA_KIND_ARTWORK, Title: "Blue dot", Filename: "dot.png"}, client.UploadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("uploaded:", item.GetTitle(), item.GetContentType())

	// From the start of her inbox ("0"), until the quiz's notification.
	errSeen := errors.New("seen")
	_, err = nana.Follow(ctx, client.FollowOptions{ResumeToken: "0"}, func(n *notificationv1.Notification) error {
		if n.GetChild() != child.GetName() || n.GetType() != notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED {
			return nil
		}
		fmt.Printf("nana reads: %s: %s\n", n.GetTitle(), n.GetBody())
		return errSeen
	})
	if !errors.Is(err, errSeen) {
		log.Fatal(err)
	}
	// Output:
	// recorded: Fractions quiz
	// uploaded: Blue dot image/png
	// nana reads: New assessment in Math: Fractions quiz: 9/10
}
