package auth

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestDefaultPolicy(t *testing.T) {
	tests := []struct {
		method string
		want   Requirement
	}{
		{"/grpc.health.v1.Health/Check", Open},
		{"/grpc.health.v1.Health/Watch", Open},
		{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", Open},
		{"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", Open},
		{"/kinbridge.progress.peer.v1.AccessService/CheckAccess", Service},
		{"/kinbridge.notification.peer.v1.EventService/Publish", Service},
		{"/peer.v1.X/Y", Service},
		{"/kinbridge.progress.v1.ProgressService/GetChild", User},
		{"/kinbridge.media.v1.MediaService/Upload", User},
		{"/kinbridge.peerless.v1.X/Y", User},           // a segment named peer, not containing it
		{"/kinbridge.progress.v1.PeerService/Y", User}, // the service name does not count
		{"/grpc.healthy.v1.X/Y", User},
		// The one public user-facing method: its token is the credential.
		{"/kinbridge.notification.v1.NotificationService/ConfirmEmail", Open},
		{"/kinbridge.notification.v1.NotificationService/GetUserSettings", User},
		{"/kinbridge.notification.v1.NotificationService/ConfirmEmailX", User},
		{"/kinbridge.notification.v2.NotificationService/ConfirmEmail", User},
		{"", User},
		{"garbage", User},
	}
	for _, tt := range tests {
		if got := DefaultPolicy(tt.method); got != tt.want {
			t.Errorf("DefaultPolicy(%q) = %v, want %v", tt.method, got, tt.want)
		}
	}
}

const (
	userMethod       = "/kinbridge.test.v1.EchoService/Whoami"
	peerMethod       = "/kinbridge.test.peer.v1.EchoService/Whoami"
	userStreamMethod = "/kinbridge.test.v1.EchoService/Watch"
	peerStreamMethod = "/kinbridge.test.peer.v1.EchoService/Watch"
)

// whoami answers with the principal the interceptor put into the context.
func whoami(ctx context.Context) (*wrapperspb.StringValue, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no principal in context")
	}
	return wrapperspb.String(fmt.Sprintf("%s|%s|%t", p.Subject, p.Service, p.Admin)), nil
}

// echoService describes a service with one unary and one server-streaming
// method, as generated code would, without needing generated code.
func echoService(name string) *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: name,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Whoami",
			Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
				in := new(emptypb.Empty)
				if err := dec(in); err != nil {
					return nil, err
				}
				h := func(ctx context.Context, _ any) (any, error) { return whoami(ctx) }
				if icpt == nil {
					return h(ctx, in)
				}
				return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/" + name + "/Whoami"}, h)
			},
		}},
		Streams: []grpc.StreamDesc{{
			StreamName:    "Watch",
			ServerStreams: true,
			Handler: func(_ any, ss grpc.ServerStream) error {
				if err := ss.RecvMsg(new(emptypb.Empty)); err != nil {
					return err
				}
				resp, err := whoami(ss.Context())
				if err != nil {
					return err
				}
				return ss.SendMsg(resp)
			},
		}},
	}
}

// startServer runs a real gRPC server with the interceptors on an in-memory
// listener and returns a client connection to it.
func startServer(t *testing.T, v *Verifier) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(UnaryServerInterceptor(v, DefaultPolicy)),
		grpc.StreamInterceptor(StreamServerInterceptor(v, nil)),
	)
	srv.RegisterService(echoService("kinbridge.test.v1.EchoService"), struct{}{})
	srv.RegisterService(echoService("kinbridge.test.peer.v1.EchoService"), struct{}{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return conn
}

func TestInterceptors(t *testing.T) {
	f := newBuiltinFixture(t)
	f.v.now = time.Now // real clock here: the gRPC stack runs in real time
	f.users.now = time.Now
	f.services.now = time.Now
	conn := startServer(t, f.v)

	alice, err := f.users.Issue("alice", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	admin, _ := f.users.Issue("root", true, time.Hour)
	expiredIssuer := NewUserIssuer(f.userKey)
	expiredIssuer.now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	expired, _ := expiredIssuer.Issue("alice", false, time.Hour)
	spoofed := signed(t, jwt.SigningMethodEdDSA, f.userKey, map[string]any{"kid": KeyID(f.userPub)},
		claimsAt(Issuer, UserAudience, "service:progress", time.Now()))
	service := NewServiceIdentity(f.serviceKey, "media")

	type call struct {
		name     string
		method   string
		auth     []string         // authorization metadata values
		creds    *ServiceIdentity // per-RPC credentials
		wantCode codes.Code
		wantMsg  string // substring of the status message, or of the reply
	}
	calls := []call{
		{name: "user token on user method", method: userMethod, auth: []string{"Bearer " + alice},
			wantMsg: "alice||false"},
		{name: "scheme is case-insensitive", method: userMethod, auth: []string{"bearer " + admin},
			wantMsg: "root||true"},
		{name: "no token", method: userMethod,
			wantCode: codes.Unauthenticated, wantMsg: "missing bearer token"},
		{name: "basic auth", method: userMethod, auth: []string{"Basic YWxpY2U6c2VjcmV0"},
			wantCode: codes.Unauthenticated, wantMsg: "missing bearer token"},
		{name: "empty bearer", method: userMethod, auth: []string{"Bearer "},
			wantCode: codes.Unauthenticated, wantMsg: "missing bearer token"},
		{name: "two authorization headers", method: userMethod, auth: []string{"Bearer " + alice, "Bearer " + admin},
			wantCode: codes.Unauthenticated, wantMsg: "more than one"},
		{name: "expired token", method: userMethod, auth: []string{"Bearer " + expired},
			wantCode: codes.Unauthenticated, wantMsg: "token expired"},
		{name: "garbage token", method: userMethod, auth: []string{"Bearer nope"},
			wantCode: codes.Unauthenticated, wantMsg: "malformed token"},
		{name: "service token on peer method", method: peerMethod, creds: service,
			wantMsg: "service:media|media|false"},
		{name: "service token on user method", method: userMethod, creds: service,
			wantCode: codes.PermissionDenied, wantMsg: `service "media" may not call it`},
		{name: "user token on peer method", method: peerMethod, auth: []string{"Bearer " + admin},
			wantCode: codes.PermissionDenied, wantMsg: "method is for Kinbridge services only"},
		{name: "user-key token with a service subject on peer method", method: peerMethod, auth: []string{"Bearer " + spoofed},
			wantCode: codes.Unauthenticated, wantMsg: "reserved for Kinbridge services"},
		{name: "no token on peer method", method: peerMethod,
			wantCode: codes.Unauthenticated, wantMsg: "missing bearer token"},
		{name: "stream: user token on user method", method: userStreamMethod, auth: []string{"Bearer " + alice},
			wantMsg: "alice||false"},
		{name: "stream: no token", method: userStreamMethod,
			wantCode: codes.Unauthenticated, wantMsg: "missing bearer token"},
		{name: "stream: service token on peer method", method: peerStreamMethod, creds: service,
			wantMsg: "service:media|media|false"},
		{name: "stream: user token on peer method", method: peerStreamMethod, auth: []string{"Bearer " + alice},
			wantCode: codes.PermissionDenied, wantMsg: "method is for Kinbridge services only"},
		{name: "stream: service token on user method", method: userStreamMethod, creds: service,
			wantCode: codes.PermissionDenied},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			ctx := t.Context()
			for _, a := range c.auth {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", a)
			}
			var opts []grpc.CallOption
			if c.creds != nil {
				opts = append(opts, grpc.PerRPCCredentials(c.creds))
			}
			reply := new(wrapperspb.StringValue)
			var err error
			if strings.HasSuffix(c.method, "/Watch") {
				err = callStream(ctx, conn, c.method, reply, opts...)
			} else {
				err = conn.Invoke(ctx, c.method, &emptypb.Empty{}, reply, opts...)
			}
			st := status.Convert(err)
			if st.Code() != c.wantCode {
				t.Fatalf("code = %v (%q), want %v", st.Code(), st.Message(), c.wantCode)
			}
			got := st.Message()
			if c.wantCode == codes.OK {
				got = reply.GetValue()
			}
			if !strings.Contains(got, c.wantMsg) {
				t.Errorf("got %q, want it to contain %q", got, c.wantMsg)
			}
		})
	}

	t.Run("health check needs no token", func(t *testing.T) {
		resp, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("Check() = %v, %v", resp, err)
		}
	})
}

func callStream(ctx context.Context, conn *grpc.ClientConn, method string, reply any, opts ...grpc.CallOption) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method, opts...)
	if err != nil {
		return err
	}
	if err := s.SendMsg(&emptypb.Empty{}); err != nil {
		return err
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	return s.RecvMsg(reply)
}

// A policy that returns something it should not refuses the call.
func TestInterceptorFailsClosed(t *testing.T) {
	f := newBuiltinFixture(t)
	tok, _ := f.users.Issue("alice", false, time.Hour)
	f.v.now = f.clk.Now
	ctx := metadata.NewIncomingContext(t.Context(), metadata.Pairs("authorization", "Bearer "+tok))
	icpt := UnaryServerInterceptor(f.v, func(string) Requirement { return 0 })
	called := false
	_, err := icpt(ctx, nil, &grpc.UnaryServerInfo{FullMethod: userMethod}, func(context.Context, any) (any, error) {
		called = true
		return nil, nil
	})
	if status.Code(err) != codes.PermissionDenied || called {
		t.Errorf("zero Requirement: code %v, handler called %v; want PermissionDenied and no call", status.Code(err), called)
	}
}

// An unreachable identity provider is the server's problem, not the caller's.
func TestInterceptorProviderDown(t *testing.T) {
	p := newIDP(t)
	p.srv.setFailing(true)
	v := p.verifier(nil)
	tok := p.token(jwt.SigningMethodRS256, p.rsa, "rsa-1", "alice", nil)
	ctx := metadata.NewIncomingContext(t.Context(), metadata.Pairs("authorization", "Bearer "+tok))
	_, err := UnaryServerInterceptor(v, nil)(ctx, nil, &grpc.UnaryServerInfo{FullMethod: userMethod},
		func(context.Context, any) (any, error) { return nil, nil })
	if status.Code(err) != codes.Unavailable {
		t.Errorf("code = %v (%v), want Unavailable", status.Code(err), err)
	}
	// The provider's address is the server's business, not the caller's.
	if msg := status.Convert(err).Message(); strings.Contains(msg, p.srv.Listener.Addr().String()) || strings.Contains(msg, "http") {
		t.Errorf("the caller is told where the provider is: %q", msg)
	}
}
