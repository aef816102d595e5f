package fanout

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"
)

// Deployment says which instances a [NATS] bus hears: those of its own deployment, and no
// other that shares the NATS server.
//
// Every message a bus sends carries an HMAC-SHA256 over the whole message (subject, every
// header, payload) under a key derived from Secret, and a bus delivers only what verifies under
// its own key. The subjects carry Name, so that two deployments on one server do not even
// receive each other's messages; the MAC is what makes that a guarantee rather than a
// convention, since anyone connected to the server may publish on any subject.
type Deployment struct {
	// Secret is what every instance of the deployment shares and no one else has, such as the
	// seed of its service key: at least [MinSecretLen] bytes. The bus never uses it as is: it
	// derives with HKDF-SHA256 the key that authenticates its messages and the default Name.
	Secret []byte
	// Name is the deployment's token in the subjects: 1 to 64 ASCII letters, digits, '-' or '_'
	// (see [ValidateDeploymentName]). Empty means [DeploymentName](Secret), so that instances
	// with one secret agree on it without configuration.
	Name string
	// AcceptUnsigned lets the bus also hear the format of the release before deployments were
	// told apart, for a rolling upgrade: old instances publish on "<prefix>.user.<token>",
	// without a MAC. With it the bus also subscribes there and delivers what arrives there
	// unsigned; it publishes every message twice, signed, on its deployment's subject and on
	// that old one (old instances ignore the MAC header). A signed message on the old subject
	// is a copy of one sent on the deployment's subject too, so it is skipped if it verifies and
	// rejected if it does not. Any unsigned publisher on the server is then heard, as before the
	// upgrade: turn it off once no old instance is left.
	AcceptUnsigned bool
}

// MinSecretLen is the shortest [Deployment.Secret], in bytes: HMAC-SHA256 keys should carry
// at least 256 bits.
const MinSecretLen = 32

// maxNameLen bounds a deployment name: it is a label, and goes into every subject.
const maxNameLen = 64

// HKDF info strings: fixed, so that every instance derives the same keys from the same
// secret, and distinct, so that the name reveals nothing of the MAC key.
const (
	infoMACKey = "kinbridge notification fanout: NATS message MAC key v1"
	infoName   = "kinbridge notification fanout: NATS deployment name v1"
)

// nameEncoding spells a derived name: lowercase base32 is valid in a subject token and reads
// well in logs.
var nameEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// DeploymentName returns the default name of the deployment whose instances share secret: a
// 16-character id derived from it with HKDF-SHA256. It is stable, tells nothing about the
// secret, and two secrets give the same name with probability 2^-80.
func DeploymentName(secret []byte) (string, error) {
	if err := validateSecret(secret); err != nil {
		return "", err
	}
	b, err := hkdf.Key(sha256.New, secret, nil, infoName, 10)
	if err != nil {
		return "", fmt.Errorf("fanout: derive the deployment name: %w", err)
	}
	return nameEncoding.EncodeToString(b), nil
}

// ValidateDeploymentName accepts what [Deployment.Name] may be: 1 to 64 ASCII letters, digits,
// '-' or '_'. That is stricter than a NATS subject token (which only excludes '.', '*', '>' and
// whitespace) so that a name is also safe in logs, metrics and server permissions.
func ValidateDeploymentName(name string) error {
	if name == "" || len(name) > maxNameLen || strings.ContainsFunc(name, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_')
	}) {
		return fmt.Errorf("%w: NATS deployment name %q: want 1 to %d ASCII letters, digits, '-' or '_' "+
			"(it is one token of the NATS subjects)", ErrInvalid, name, maxNameLen)
	}
	return nil
}

func validateSecret(secret []byte) error {
	if len(secret) < MinSecretLen {
		return fmt.Errorf("%w: deployment secret of %d bytes, want at least %d", ErrInvalid, len(secret), MinSecretLen)
	}
	return nil
}

// headerMAC carries a message's MAC, unpadded base64url.
const headerMAC = "Kinbridge-Mac"

// signer computes and checks the MACs of one deployment.
type signer struct{ key []byte }

func newSigner(secret []byte) (*signer, error) {
	if err := validateSecret(secret); err != nil {
		return nil, err
	}
	key, err := hkdf.Key(sha256.New, secret, nil, infoMACKey, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("fanout: derive the MAC key: %w", err)
	}
	return &signer{key: key}, nil
}

// mac returns the MAC of a message: its subject, every header but the MAC's with all their
// values, and its data, each length-prefixed so that no two messages encode alike.
func (s *signer) mac(subject string, h nats.Header, data []byte) []byte {
	keys := make([]string, 0, len(h))
	for k := range h {
		if k != headerMAC {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	buf := appendField(make([]byte, 0, 512), subject)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(keys)))
	for _, k := range keys {
		buf = appendField(buf, k)
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(h[k])))
		for _, v := range h[k] {
			buf = appendField(buf, v)
		}
	}
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(data)))
	m := hmac.New(sha256.New, s.key)
	m.Write(buf)
	m.Write(data)
	return m.Sum(nil)
}

func appendField(buf []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint32(buf, uint32(len(s))), s...)
}

// sign sets h's MAC header for a message on subject with data.
func (s *signer) sign(subject string, h nats.Header, data []byte) {
	h[headerMAC] = []string{base64.RawURLEncoding.EncodeToString(s.mac(subject, h, data))}
}

// verify reports whether msg carries a MAC at all, and whether it is this deployment's MAC of
// msg as received.
func (s *signer) verify(msg *nats.Msg) (signed, valid bool) {
	values := msg.Header[headerMAC]
	if len(values) == 0 {
		return false, false
	}
	got, err := base64.RawURLEncoding.DecodeString(values[0])
	if len(values) != 1 || err != nil {
		return true, false
	}
	return true, hmac.Equal(got, s.mac(msg.Subject, msg.Header, msg.Data))
}
