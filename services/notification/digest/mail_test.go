package digest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/notification/digest"
)

func TestSMTPSends(t *testing.T) {
	mp := testenv.StartMailpit(t)
	for _, tc := range []struct {
		name, user, pass string
	}{
		{"anonymous", "", ""},
		{"authenticated", "kinbridge", "s3cret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := digest.NewSMTP(digest.SMTPConfig{Addr: mp.SMTPAddr, From: "Kinbridge <digest@kinbridge.test>", Username: tc.user, Password: tc.pass})
			if err != nil {
				t.Fatal(err)
			}
			id := "probe." + tc.name + "@kinbridge.test"
			err = m.Send(context.Background(), &digest.Message{
				To: "ana@example.test", Subject: "Ünïcode " + tc.name, Text: "plain", HTML: "<p>html</p>",
				MessageID: id, Headers: map[string]string{"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
			})
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, s := range mp.Messages(t) {
				if s.MessageID != id {
					continue
				}
				found = true
				full := mp.Message(t, s.ID)
				if strings.TrimSpace(full.Text) != "plain" || !strings.Contains(full.HTML, "<p>html</p>") || full.Subject != "Ünïcode "+tc.name {
					t.Errorf("message = %+v", full)
				}
				if h := mp.Headers(t, s.ID); strings.Join(h["List-Unsubscribe-Post"], ",") != "List-Unsubscribe=One-Click" {
					t.Errorf("headers = %v", h)
				}
			}
			if !found {
				t.Errorf("no message %s in mailpit", id)
			}
		})
	}
}

func TestNewSMTPRefusesBadConfig(t *testing.T) {
	for _, cfg := range []digest.SMTPConfig{
		{Addr: "mail.example.org", From: "a@example.org"},
		{Addr: "mail.example.org:0", From: "a@example.org"},
		{Addr: "mail.example.org:587"},
		{Addr: "mail.example.org:587", From: "not an address"},
	} {
		if _, err := digest.NewSMTP(cfg); err == nil {
			t.Errorf("NewSMTP(%+v) = nil error", cfg)
		}
	}
}
