package auth

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Requirement is who may call a gRPC method.
type Requirement int

// The zero Requirement is deliberately not valid: a policy that forgets a
// method gets the call refused rather than opened.
const (
	// Open methods need no token (health checks, reflection).
	Open Requirement = iota + 1
	// User methods need a user token; service identities are refused.
	User
	// Service methods need a service token; users are refused.
	Service
)

// String returns the requirement's name.
func (r Requirement) String() string {
	switch r {
	case Open:
		return "open"
	case User:
		return "user"
	case Service:
		return "service"
	default:
		return "invalid"
	}
}

// DefaultPolicy is the suite's rule for who may call what. Health checks and
// reflection are Open. Methods of a proto package with a "peer" segment (e.g.
// "/kinbridge.progress.peer.v1.AccessService/CheckAccess") are for other
// Kinbridge services only: the gateway never routes them, and they answer
// questions (access checks, event intake) users must not ask directly.
// The few methods in publicMethods are Open too: their request carries its
// own credential. Everything else serves users.
func DefaultPolicy(fullMethod string) Requirement {
	if strings.HasPrefix(fullMethod, "/grpc.health.v1.") || strings.HasPrefix(fullMethod, "/grpc.reflection.") || publicMethods[fullMethod] {
		return Open
	}
	// fullMethod is "/<package>.<Service>/<Method>".
	svc, _, ok := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	if ok {
		if i := strings.LastIndexByte(svc, '.'); i > 0 {
			for seg := range strings.SplitSeq(svc[:i], ".") {
				if seg == "peer" {
					return Service
				}
			}
		}
	}
	return User
}

// publicMethods are the user-facing methods anyone may call without a
// token, because the request itself carries a secret that proves what it
// asks (a single-use token mailed to the user). Each is listed by its full
// name; the gateway keeps the same list of routes (gateway/public.go).
var publicMethods = map[string]bool{
	// The token of the mailed confirmation link proves the mailbox.
	"/kinbridge.notification.v1.NotificationService/ConfirmEmail": true,
	// The token of a digest mail's unsubscribe link turns that digest off.
	"/kinbridge.notification.v1.NotificationService/UnsubscribeDigest": true,
}

// UnaryServerInterceptor authenticates unary calls: it verifies the bearer
// token with v, enforces policy(method) (DefaultPolicy if nil) and passes the
// [Principal] to the handler in the context (see [FromContext]).
//
// Status codes: no or unusable token, Unauthenticated ("missing bearer token",
// or the verifier's reason); a valid token of the wrong kind, PermissionDenied;
// OIDC keys that cannot be fetched, Unavailable.
func UnaryServerInterceptor(v *Verifier, policy func(string) Requirement) grpc.UnaryServerInterceptor {
	if policy == nil {
		policy = DefaultPolicy
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := authorize(ctx, v, policy(info.FullMethod))
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is [UnaryServerInterceptor] for streaming calls; the
// handler sees the principal in stream.Context().
func StreamServerInterceptor(v *Verifier, policy func(string) Requirement) grpc.StreamServerInterceptor {
	if policy == nil {
		policy = DefaultPolicy
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := authorize(ss.Context(), v, policy(info.FullMethod))
		if err != nil {
			return err
		}
		return handler(srv, &authedStream{ServerStream: ss, ctx: ctx})
	}
}

type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *authedStream) Context() context.Context { return s.ctx }

func authorize(ctx context.Context, v *Verifier, req Requirement) (context.Context, error) {
	switch req {
	case Open:
		// Not even an offered token is checked: health checks must not depend
		// on the identity provider being reachable.
		return ctx, nil
	case User, Service:
	default:
		return nil, status.Error(codes.PermissionDenied, "no access rule for this method")
	}
	token, err := bearer(ctx)
	if err != nil {
		return nil, err
	}
	p, err := v.Verify(ctx, token)
	switch {
	case errors.Is(err, ErrKeySetUnavailable):
		// The reason names the identity provider's address: the log has it,
		// the caller hears only what failed.
		slog.WarnContext(ctx, "auth: verifying a token", slog.Any("error", err))
		return nil, status.Error(codes.Unavailable, "the identity provider's keys cannot be fetched; retry shortly")
	case errors.Is(err, context.Canceled):
		return nil, status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return nil, status.Error(codes.DeadlineExceeded, err.Error())
	case err != nil:
		return nil, status.Error(codes.Unauthenticated, err.Error())
	case req == Service && !p.IsService():
		return nil, status.Error(codes.PermissionDenied, "method is for Kinbridge services only")
	case req == User && p.IsService():
		return nil, status.Errorf(codes.PermissionDenied, "method is for users; service %q may not call it", p.Service)
	}
	return NewContext(ctx, p), nil
}

// bearer extracts the token from "authorization: Bearer <jwt>" metadata.
// It reads that one key: metadata.FromIncomingContext would copy every
// header of the call, on every call.
func bearer(ctx context.Context) (string, error) {
	vals := metadata.ValueFromIncomingContext(ctx, "authorization")
	switch len(vals) {
	case 0:
		return "", status.Error(codes.Unauthenticated, "missing bearer token")
	case 1:
	default:
		// Which one would the caller mean? Refuse rather than pick.
		return "", status.Error(codes.Unauthenticated, "more than one authorization header")
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !strings.EqualFold(scheme, "bearer") {
		return "", status.Error(codes.Unauthenticated, "missing bearer token: authorization must be \"Bearer <token>\"")
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", status.Error(codes.Unauthenticated, "missing bearer token")
	}
	return token, nil
}
