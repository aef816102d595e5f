// Package digest sends each user who asked for it one e-mail a day
// summarising the notifications of their last local day: a scheduler on an
// injectable clock (scheduler.go), the mail's composition (compose.go) and
// an SMTP sender (mail.go).
//
// At most one digest per user and day is the aim, across instances sharing
// the database and across restarts: a runner claims (user, day) with a
// lease in one statement before sending and marks it sent after the SMTP
// server accepted the mail. A runner that dies between the two leaves the
// claim to expire; the next one sends again with the same Message-ID, so a
// receiver that drops duplicate Message-IDs still shows one.
package digest
