package testenv_test

import (
	"fmt"
	"net/smtp"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

func sendRaw(t *testing.T, addr, messageID, subject string) {
	t.Helper()
	msg := fmt.Sprintf("From: a@example.test\r\nTo: b@example.test\r\nMessage-ID: <%s>\r\nSubject: %s\r\nX-Probe: yes\r\n\r\nhello\r\n", messageID, subject)
	if err := smtp.SendMail(addr, nil, "a@example.test", []string{"b@example.test"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

func TestMailpit(t *testing.T) {
	m := testenv.StartMailpit(t)
	sendRaw(t, m.SMTPAddr, "one@example.test", "first")
	sendRaw(t, m.SMTPAddr, "one@example.test", "again")
	got := m.WaitMessages(t, 2)
	if len(got) != 2 {
		t.Fatalf("holds %d messages, want 2 (duplicates kept without the option)", len(got))
	}
	full := m.Message(t, got[0].ID)
	if full.Text == "" || full.MessageID != "one@example.test" {
		t.Errorf("message = %+v", full)
	}
	if h := m.Headers(t, got[0].ID); len(h["X-Probe"]) != 1 || h["X-Probe"][0] != "yes" {
		t.Errorf("headers = %v", h)
	}
}

func TestMailpitIgnoreDuplicateIDs(t *testing.T) {
	m := testenv.StartMailpit(t, testenv.MailpitIgnoreDuplicateIDs())
	sendRaw(t, m.SMTPAddr, "one@example.test", "first")
	sendRaw(t, m.SMTPAddr, "one@example.test", "again")
	sendRaw(t, m.SMTPAddr, "two@example.test", "other")
	got := m.WaitMessages(t, 2)
	if len(got) != 2 {
		t.Fatalf("holds %d messages, want 2 (the duplicate dropped): %+v", len(got), got)
	}
}
