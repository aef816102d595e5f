package progress

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/discussion"
	"github.com/kinbridge/kinbridge/pkg/etag"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/pagetoken"
	"github.com/kinbridge/kinbridge/pkg/validate"
	"github.com/kinbridge/kinbridge/services/progress/store"
)

// server implements the public ProgressService.
type server struct {
	progressv1.UnimplementedProgressServiceServer
	store     store.Store
	summaries *summaryCache
	notify    func() // an event was committed: deliver it now
	// accessChanged is called once a change to who may see a child has
	// committed (a guardianship granted, changed or revoked, the child
	// deleted): it drops the answers media and notification share about
	// the child (see Config.AccessCache).
	accessChanged func(ctx context.Context, child string)
	now           func() time.Time // the clock invitations expire by
	// discussion serves comments and reactions (discussion.go).
	discussion *discussion.Handler
}

// storeError maps store errors to statuses; what names the resource kind.
func storeError(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return status.Errorf(codes.NotFound, "%s not found", what)
	case errors.Is(err, store.ErrAlreadyExists):
		return status.Errorf(codes.AlreadyExists, "%s already exists", what)
	case errors.Is(err, store.ErrStale):
		return status.Errorf(codes.Aborted, "%s was changed by someone else since the etag was read; read it again and retry", what)
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	var st interface{ GRPCStatus() *status.Status }
	if errors.As(err, &st) {
		return err
	}
	return status.Error(codes.Internal, "storage error")
}

func childToProto(c store.Child) *progressv1.Child {
	return &progressv1.Child{
		Name:        names.Child{ID: c.ID}.String(),
		DisplayName: c.DisplayName,
		BirthDate:   c.BirthDate,
		School:      c.School,
		GradeLevel:  c.GradeLevel,
		TimeZone:    c.TimeZone,
		CreateTime:  timestamppb.New(c.CreateTime),
		UpdateTime:  timestamppb.New(c.UpdateTime),
		Etag:        etag.Of(c.Revision),

		GuardiansMayInvite: c.GuardiansMayInvite,
		// Set by administrators; shown to anyone who sees the child.
		RequireApproval: c.RequireApproval,
	}
}

func guardianshipToProto(g store.Guardianship) *progressv1.Guardianship {
	return &progressv1.Guardianship{
		Name:       names.Guardianship{Child: g.ChildID, User: g.User}.String(),
		User:       g.User,
		Role:       progressv1.Role(g.Role),
		Relation:   g.Relation,
		CreateTime: timestamppb.New(g.CreateTime),
		UpdateTime: timestamppb.New(g.UpdateTime),
		Etag:       etag.Of(g.Revision),
	}
}

// checkChildFields enforces what the contract's constraints cannot: a
// birth date that exists and is not in the future, a known time zone.
func checkChildFields(prefix string, c *progressv1.Child) error {
	var bad []validate.Field
	if c.BirthDate != "" {
		if d, err := time.Parse(time.DateOnly, c.BirthDate); err != nil {
			bad = append(bad, validate.Field{Path: prefix + "birth_date", Description: "is not a real date (YYYY-MM-DD)"})
		} else if d.After(time.Now()) {
			bad = append(bad, validate.Field{Path: prefix + "birth_date", Description: "is in the future"})
		}
	}
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "Local" {
			bad = append(bad, validate.Field{Path: prefix + "time_zone", Description: "is not an IANA time zone such as Europe/Lisbon"})
		}
	}
	if len(bad) > 0 {
		return validate.InvalidArgument(bad...)
	}
	return nil
}

// CreateChild creates a child with a server-assigned id.
func (s *server) CreateChild(ctx context.Context, req *progressv1.CreateChildRequest) (*progressv1.Child, error) {
	if _, err := requireAdmin(ctx, "create children"); err != nil {
		return nil, err
	}
	in := req.GetChild()
	if err := checkChildFields("child.", in); err != nil {
		return nil, err
	}
	tz := in.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	c, err := s.store.CreateChild(ctx, store.Child{
		ID: names.NewID(), DisplayName: in.DisplayName, BirthDate: in.BirthDate,
		School: in.School, GradeLevel: in.GradeLevel, TimeZone: tz,
		GuardiansMayInvite: in.GuardiansMayInvite, RequireApproval: in.RequireApproval,
	})
	if err != nil {
		return nil, storeError(err, "child")
	}
	return childToProto(c), nil
}

// GetChild returns a child the caller may see.
func (s *server) GetChild(ctx context.Context, req *progressv1.GetChildRequest) (*progressv1.Child, error) {
	cn, err := validate.Name("name", req.GetName(), names.ParseChild)
	if err != nil {
		return nil, err
	}
	id := cn.ID
	if _, err := s.authorizeChild(ctx, id, store.RoleGuardian); err != nil {
		return nil, err
	}
	c, err := s.store.GetChild(ctx, id)
	if err != nil {
		return nil, storeError(err, req.GetName())
	}
	return childToProto(c), nil
}

// ListChildren lists what the caller may see, by creation.
func (s *server) ListChildren(ctx context.Context, req *progressv1.ListChildrenRequest) (*progressv1.ListChildrenResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	q := store.ListChildrenQuery{Limit: pagetoken.Size(req.GetPageSize()) + 1}
	listing := "children"
	if !p.Admin {
		q.User = p.Subject
		listing = "children:" + p.Subject
	}
	tok, err := decodePageToken(req.GetPageToken(), listing)
	if err != nil {
		return nil, err
	}
	if tok != nil {
		q.After = &store.ChildCursor{CreateTime: time.UnixMicro(tok.AfterTime), ID: tok.AfterID}
	}
	children, err := s.store.ListChildren(ctx, q)
	if err != nil {
		return nil, storeError(err, "children")
	}
	resp := &progressv1.ListChildrenResponse{}
	// One row more than the page tells whether another page exists.
	if len(children) == q.Limit {
		children = children[:q.Limit-1]
		last := children[len(children)-1]
		resp.NextPageToken = pagetoken.Encode(listing, cursor{AfterTime: last.CreateTime.UnixMicro(), AfterID: last.ID})
	}
	for _, c := range children {
		resp.Children = append(resp.Children, childToProto(c))
	}
	return resp, nil
}

// updatable lists the fields an update_mask may name; identifying and
// output-only fields may appear (REST clients echo whole resources) and are
// ignored.
type updatable struct {
	fields  map[string]bool
	ignored map[string]bool
}

var (
	childUpdatable = updatable{
		fields: map[string]bool{"display_name": true, "birth_date": true, "school": true, "grade_level": true, "time_zone": true,
			"guardians_may_invite": true, "require_approval": true},
		ignored: map[string]bool{"name": true, "etag": true, "create_time": true, "update_time": true},
	}
	guardianshipUpdatable = updatable{
		fields:  map[string]bool{"role": true, "relation": true},
		ignored: map[string]bool{"name": true, "user": true, "etag": true, "create_time": true, "update_time": true},
	}
)

// paths returns the fields to change; an empty mask or "*" means all.
func (u updatable) paths(mask *fieldmaskpb.FieldMask) (map[string]bool, error) {
	if len(mask.GetPaths()) == 0 || (len(mask.GetPaths()) == 1 && mask.GetPaths()[0] == "*") {
		return u.fields, nil
	}
	out := map[string]bool{}
	for _, p := range mask.GetPaths() {
		// REST clients send JSON names, and the gateway names nested fields
		// ("score.points.earned"): a message field is replaced whole.
		p, _, _ = strings.Cut(snakeCase(p), ".")
		switch {
		case u.fields[p]:
			out[p] = true
		case u.ignored[p]:
		default:
			return nil, validate.InvalidArgument(validate.Field{Path: "update_mask", Description: "names a field that cannot be updated: " + p})
		}
	}
	return out, nil
}

// snakeCase turns a JSON field name ("displayName") into its proto name.
func snakeCase(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('_')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// UpdateChild changes the masked fields, checking the etag when given.
func (s *server) UpdateChild(ctx context.Context, req *progressv1.UpdateChildRequest) (*progressv1.Child, error) {
	in := req.GetChild()
	cn, err := validate.Name("child.name", in.GetName(), names.ParseChild)
	if err != nil {
		return nil, err
	}
	id := cn.ID
	rev, err := etag.Revision("child.etag", in.GetEtag())
	if err != nil {
		return nil, err
	}
	paths, err := childUpdatable.paths(req.GetUpdateMask())
	if err != nil {
		return nil, err
	}
	if paths["display_name"] && in.DisplayName == "" {
		return nil, validate.InvalidArgument(validate.Field{Path: "child.display_name", Description: "must not be empty"})
	}
	if err := checkChildFields("child.", in); err != nil {
		return nil, err
	}
	if err := s.authorizeAdminOnChild(ctx, id, "change children"); err != nil {
		return nil, err
	}
	c, err := s.store.UpdateChild(ctx, id, rev, func(c *store.Child) error {
		if paths["display_name"] {
			c.DisplayName = in.DisplayName
		}
		if paths["birth_date"] {
			c.BirthDate = in.BirthDate
		}
		if paths["school"] {
			c.School = in.School
		}
		if paths["grade_level"] {
			c.GradeLevel = in.GradeLevel
		}
		if paths["time_zone"] {
			c.TimeZone = in.TimeZone
			if c.TimeZone == "" {
				c.TimeZone = "UTC"
			}
		}
		if paths["guardians_may_invite"] {
			c.GuardiansMayInvite = in.GuardiansMayInvite
		}
		if paths["require_approval"] {
			c.RequireApproval = in.RequireApproval
		}
		return nil
	})
	if err != nil {
		return nil, storeError(err, in.GetName())
	}
	if paths["require_approval"] {
		// Media learns it with its access answers: drop the shared ones.
		s.accessChanged(ctx, in.GetName())
	}
	return childToProto(c), nil
}

// DeleteChild removes a child and everything recorded for it.
func (s *server) DeleteChild(ctx context.Context, req *progressv1.DeleteChildRequest) (*emptypb.Empty, error) {
	cn, err := validate.Name("name", req.GetName(), names.ParseChild)
	if err != nil {
		return nil, err
	}
	id := cn.ID
	rev, err := etag.Revision("etag", req.GetEtag())
	if err != nil {
		return nil, err
	}
	if err := s.authorizeAdminOnChild(ctx, id, "delete children"); err != nil {
		return nil, err
	}
	ev := event(ctx, notificationv1.EventType_EVENT_TYPE_CHILD_DELETED, id, "A child was removed", "", req.GetName(), "")
	if err := s.store.DeleteChild(ctx, id, rev, ev); err != nil {
		return nil, storeError(err, req.GetName())
	}
	s.notify()
	s.accessChanged(ctx, req.GetName())
	return &emptypb.Empty{}, nil
}

// CreateGuardianship grants a user access to a child.
func (s *server) CreateGuardianship(ctx context.Context, req *progressv1.CreateGuardianshipRequest) (*progressv1.Guardianship, error) {
	cn, err := validate.Name("parent", req.GetParent(), names.ParseChild)
	if err != nil {
		return nil, err
	}
	id := cn.ID
	in := req.GetGuardianship() // its user and role are there: the contract's create rules
	if err := s.authorizeAdminOnChild(ctx, id, "grant access to children"); err != nil {
		return nil, err
	}
	role := strings.ToLower(strings.TrimPrefix(in.Role.String(), "ROLE_"))
	ev := event(ctx, notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_GRANTED, id, "New guardian",
		fmt.Sprintf("%s may now follow as %s", in.User, role), names.Guardianship{Child: id, User: in.User}.String(), in.User)
	g, err := s.store.CreateGuardianship(ctx, store.Guardianship{ChildID: id, User: in.User, Role: store.Role(in.Role), Relation: in.Relation}, ev)
	if err != nil {
		return nil, storeError(err, names.Guardianship{Child: id, User: in.User}.String())
	}
	s.notify()
	s.accessChanged(ctx, names.Child{ID: id}.String())
	return guardianshipToProto(g), nil
}

// GetGuardianship returns one guardianship of a child the caller may see.
func (s *server) GetGuardianship(ctx context.Context, req *progressv1.GetGuardianshipRequest) (*progressv1.Guardianship, error) {
	gn, err := validate.Name("name", req.GetName(), names.ParseGuardianship)
	if err != nil {
		return nil, err
	}
	child, user := gn.Child, gn.User
	if _, err := s.authorizeChild(ctx, child, store.RoleGuardian); err != nil {
		return nil, err
	}
	g, err := s.store.GetGuardianship(ctx, child, user)
	if err != nil {
		return nil, storeError(err, req.GetName())
	}
	return guardianshipToProto(g), nil
}

// ListGuardianships lists who may follow a child the caller may see.
func (s *server) ListGuardianships(ctx context.Context, req *progressv1.ListGuardianshipsRequest) (*progressv1.ListGuardianshipsResponse, error) {
	cn, err := validate.Name("parent", req.GetParent(), names.ParseChild)
	if err != nil {
		return nil, err
	}
	id := cn.ID
	if _, err := s.authorizeChild(ctx, id, store.RoleGuardian); err != nil {
		return nil, err
	}
	tok, err := decodePageToken(req.GetPageToken(), guardiansListing(id))
	if err != nil {
		return nil, err
	}
	after := ""
	if tok != nil {
		after = tok.AfterValue
	}
	limit := pagetoken.Size(req.GetPageSize()) + 1
	gs, err := s.store.ListGuardianships(ctx, id, after, limit)
	if err != nil {
		return nil, storeError(err, "guardianships")
	}
	resp := &progressv1.ListGuardianshipsResponse{}
	if len(gs) == limit {
		gs = gs[:limit-1]
		resp.NextPageToken = pagetoken.Encode(guardiansListing(id), cursor{AfterValue: gs[len(gs)-1].User})
	}
	for _, g := range gs {
		resp.Guardianships = append(resp.Guardianships, guardianshipToProto(g))
	}
	return resp, nil
}

// UpdateGuardianship changes a guardianship's role or relation.
func (s *server) UpdateGuardianship(ctx context.Context, req *progressv1.UpdateGuardianshipRequest) (*progressv1.Guardianship, error) {
	in := req.GetGuardianship()
	gn, err := validate.Name("guardianship.name", in.GetName(), names.ParseGuardianship)
	if err != nil {
		return nil, err
	}
	child, user := gn.Child, gn.User
	rev, err := etag.Revision("guardianship.etag", in.GetEtag())
	if err != nil {
		return nil, err
	}
	paths, err := guardianshipUpdatable.paths(req.GetUpdateMask())
	if err != nil {
		return nil, err
	}
	if paths["role"] && in.GetRole() == progressv1.Role_ROLE_UNSPECIFIED {
		return nil, validate.InvalidArgument(validate.Field{Path: "guardianship.role", Description: "is required: ROLE_GUARDIAN or ROLE_CONTRIBUTOR"})
	}
	if err := s.authorizeAdminOnChild(ctx, child, "change access to children"); err != nil {
		return nil, err
	}
	g, err := s.store.UpdateGuardianship(ctx, child, user, rev, func(g *store.Guardianship) error {
		if paths["role"] {
			g.Role = store.Role(in.Role)
		}
		if paths["relation"] {
			g.Relation = in.Relation
		}
		return nil
	})
	if err != nil {
		return nil, storeError(err, in.GetName())
	}
	s.accessChanged(ctx, names.Child{ID: child}.String())
	return guardianshipToProto(g), nil
}

// DeleteGuardianship revokes access.
func (s *server) DeleteGuardianship(ctx context.Context, req *progressv1.DeleteGuardianshipRequest) (*emptypb.Empty, error) {
	gn, err := validate.Name("name", req.GetName(), names.ParseGuardianship)
	if err != nil {
		return nil, err
	}
	child, user := gn.Child, gn.User
	rev, err := etag.Revision("etag", req.GetEtag())
	if err != nil {
		return nil, err
	}
	if err := s.authorizeAdminOnChild(ctx, child, "revoke access to children"); err != nil {
		return nil, err
	}
	ev := event(ctx, notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_REVOKED, child, "Access revoked",
		user+" no longer follows the child", req.GetName(), user)
	if err := s.store.DeleteGuardianship(ctx, child, user, rev, s.now(), ev); err != nil {
		return nil, storeError(err, req.GetName())
	}
	s.notify()
	s.accessChanged(ctx, names.Child{ID: child}.String())
	return &emptypb.Empty{}, nil
}

// accessServer implements the service-only AccessService.
type accessServer struct {
	progresspeerv1.UnimplementedAccessServiceServer
	store store.Store
}

// CheckAccess answers for other services; the auth interceptor has already
// ensured the caller is one.
func (a *accessServer) CheckAccess(ctx context.Context, req *progresspeerv1.CheckAccessRequest) (*progresspeerv1.CheckAccessResponse, error) {
	cn, err := validate.Name("child", req.GetChild(), names.ParseChild)
	if err != nil {
		return nil, err
	}
	id := cn.ID
	role, exists, requireApproval, err := a.store.Access(ctx, id, req.GetUser())
	if err != nil {
		return nil, storeError(err, "child")
	}
	need := store.RoleGuardian
	if req.GetPermission() == progresspeerv1.Permission_PERMISSION_CONTRIBUTE {
		need = store.RoleContributor
	}
	return &progresspeerv1.CheckAccessResponse{
		Allowed:     exists && role >= need,
		ChildExists: exists,
		Role:        progressv1.Role(role),
		// Media makes a contributor's upload a draft when it is set.
		ApprovalRequired: requireApproval,
	}, nil
}

// ListGuardians tells other services who follows a child.
func (a *accessServer) ListGuardians(ctx context.Context, req *progresspeerv1.ListGuardiansRequest) (*progresspeerv1.ListGuardiansResponse, error) {
	cn, err := validate.Name("child", req.GetChild(), names.ParseChild)
	if err != nil {
		return nil, err
	}
	id := cn.ID
	if _, err := a.store.GetChild(ctx, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return &progresspeerv1.ListGuardiansResponse{}, nil
		}
		return nil, storeError(err, "child")
	}
	gs, err := a.store.Guardians(ctx, id)
	if err != nil {
		return nil, storeError(err, "guardians")
	}
	resp := &progresspeerv1.ListGuardiansResponse{ChildExists: true}
	for _, g := range gs {
		resp.Guardians = append(resp.Guardians, &progresspeerv1.Guardian{User: g.User, Role: progressv1.Role(g.Role)})
	}
	return resp, nil
}
