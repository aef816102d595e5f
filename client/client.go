// Package client is the Go SDK of Kinbridge: one [Client] holds the
// connections to the progress, media and notification services and hands
// out their generated gRPC clients, with the caller's bearer token on every
// call. On top of them it offers what is hard to get right by hand: a
// resumable upload that survives dropped connections and restarts
// ([Client.Upload], [Client.UploadFile]), and a live notification feed that
// reconnects and resumes without gaps or duplicates ([Client.Follow]).
//
// Resource names (children/{child}, children/{child}/media/{media}, ...)
// are parsed and formatted by github.com/kinbridge/kinbridge/pkg/names, the
// same package the services use.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/reflect/protoreflect"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/grpcclient"
)

// DefaultTimeout is the deadline of a unary call whose context has none.
const DefaultTimeout = 10 * time.Second

// Client is a connection to a Kinbridge suite on behalf of one caller. It
// is safe for concurrent use; Close it when done.
type Client struct {
	opts         options
	progress     *grpc.ClientConn
	media        *grpc.ClientConn
	notification *grpc.ClientConn
	conns        []*grpc.ClientConn // each once, for Close
}

// Option configures a [Client].
type Option func(*options)

type options struct {
	token            string
	tls              *tls.Config
	timeout          time.Duration
	mediaAddr        string
	notificationAddr string
	dialOptions      []grpc.DialOption
}

// WithToken sends token ("Bearer " prefix optional) on every call. Without
// it calls are anonymous, which only health checks accept.
func WithToken(token string) Option {
	return func(o *options) {
		o.token = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(token), "Bearer "))
	}
}

// WithTLS connects over TLS with cfg. Without it the connections are
// plaintext, as the suite serves on loopback and private networks.
func WithTLS(cfg *tls.Config) Option {
	return func(o *options) { o.tls = cfg }
}

// WithTimeout sets the deadline of unary calls whose context has none
// ([DefaultTimeout] otherwise), how long an upload or download stream may
// go without progress before it is retried, and how long a feed [Client.Follow]
// opens may take to answer before it is reopened.
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// WithMediaAddr reaches the media service at addr instead of the address
// given to [New] (each service has its own port in `kinbridge serve all`).
func WithMediaAddr(addr string) Option {
	return func(o *options) { o.mediaAddr = addr }
}

// WithNotificationAddr reaches the notification service at addr instead of
// the address given to [New].
func WithNotificationAddr(addr string) Option {
	return func(o *options) { o.notificationAddr = addr }
}

// WithDialOptions adds gRPC dial options to every connection, after the
// client's own. Uploads reuse one buffer for the chunks they send, so a
// stats handler added here must not keep a sent message past Send.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}

// publicServices are the services a Client talks to; the connections retry
// the methods the contracts mark idempotent, and never the others.
var publicServices = []protoreflect.ServiceDescriptor{
	progressv1.File_kinbridge_progress_v1_progress_proto.Services().ByName("ProgressService"),
	mediav1.File_kinbridge_media_v1_media_proto.Services().ByName("MediaService"),
	notificationv1.File_kinbridge_notification_v1_notification_proto.Services().ByName("NotificationService"),
}

// New returns a Client of the suite at addr (host:port of the progress
// service, and of the others unless [WithMediaAddr] or
// [WithNotificationAddr] say otherwise). It connects lazily: nothing goes
// over the network before the first call.
func New(addr string, opts ...Option) (*Client, error) {
	o := options{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if addr == "" {
		return nil, errors.New("client: no address")
	}
	if o.mediaAddr == "" {
		o.mediaAddr = addr
	}
	if o.notificationAddr == "" {
		o.notificationAddr = addr
	}
	c := &Client{opts: o}
	byAddr := map[string]*grpc.ClientConn{}
	dial := func(target string) (*grpc.ClientConn, error) {
		if conn, ok := byAddr[target]; ok {
			return conn, nil
		}
		dialOpts := []grpc.DialOption{}
		if o.tls != nil {
			dialOpts = append(dialOpts, grpc.WithTransportCredentials(credentials.NewTLS(o.tls)))
		}
		if o.token != "" {
			dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(bearer{token: o.token, secure: o.tls != nil}))
		}
		conn, err := grpcclient.New(target, grpcclient.Options{
			Timeout:     o.timeout,
			Services:    publicServices,
			DialOptions: append(dialOpts, o.dialOptions...),
		})
		if err != nil {
			return nil, err
		}
		byAddr[target] = conn
		c.conns = append(c.conns, conn)
		return conn, nil
	}
	var err error
	if c.progress, err = dial(addr); err == nil {
		if c.media, err = dial(o.mediaAddr); err == nil {
			c.notification, err = dial(o.notificationAddr)
		}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Progress returns the client of the progress service: children,
// guardians, assessments, milestones, summaries.
func (c *Client) Progress() progressv1.ProgressServiceClient {
	return progressv1.NewProgressServiceClient(c.progress)
}

// Media returns the client of the media service: photos, videos, artwork
// and documents, their uploads and downloads.
func (c *Client) Media() mediav1.MediaServiceClient {
	return mediav1.NewMediaServiceClient(c.media)
}

// Notifications returns the client of the notification service: the
// caller's inbox, subscriptions and live feed.
func (c *Client) Notifications() notificationv1.NotificationServiceClient {
	return notificationv1.NewNotificationServiceClient(c.notification)
}

// Close closes the connections.
func (c *Client) Close() error {
	var errs []error
	for _, conn := range c.conns {
		errs = append(errs, conn.Close())
	}
	c.conns = nil
	return errors.Join(errs...)
}

// reconnect makes the connection to conn try to reconnect now: gRPC keeps
// its own, longer, reconnection backoff, and the retry loops here decide
// when to try.
func reconnect(conn *grpc.ClientConn) { conn.ResetConnectBackoff() }

// bearer is the caller's token on every call.
type bearer struct {
	token  string
	secure bool
}

// GetRequestMetadata adds the token to a call.
func (b bearer) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

// RequireTransportSecurity is false for plaintext connections: the suite
// serves them on loopback and private networks, and gRPC would otherwise
// refuse to send the token at all.
func (b bearer) RequireTransportSecurity() bool { return b.secure }
