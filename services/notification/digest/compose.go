package digest

import (
	htmltemplate "html/template"
	"net/url"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/kinbridge/kinbridge/services/notification/store"
)

// item is one notification as the mail shows it.
type item struct {
	Title, Body, Link string
}

// view is what both parts of a digest are made from.
type view struct {
	Day         string // "Monday, 2 March 2026"
	Items       []item
	More        int // notifications of the day not listed
	AppURL      string
	Unsubscribe string // the app's page, token in the fragment
}

var textTemplate = texttemplate.Must(texttemplate.New("text").Parse(`Hello,

this is what Kinbridge brought you on {{.Day}}:
{{range .Items}}
- {{.Title}}{{if .Body}}: {{.Body}}{{end}}
  {{.Link}}
{{end}}{{if .More}}
... and {{.More}} more in the app.
{{end}}
Open Kinbridge: {{.AppURL}}

You get this mail once a day, only after a day with news, because the
daily digest is on in your settings. To stop it, open
{{.Unsubscribe}}
`))

var htmlTemplate = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Kinbridge: {{.Day}}</title></head>
<body style="font-family: sans-serif; line-height: 1.4">
<p>Hello,</p>
<p>this is what Kinbridge brought you on <strong>{{.Day}}</strong>:</p>
<ul>
{{range .Items}}<li><a href="{{.Link}}">{{.Title}}</a>{{if .Body}}: {{.Body}}{{end}}</li>
{{end}}</ul>
{{if .More}}<p>&hellip; and {{.More}} more <a href="{{.AppURL}}">in the app</a>.</p>
{{end}}<p><a href="{{.AppURL}}">Open Kinbridge</a></p>
<p style="color: #666; font-size: small">You get this mail once a day, only after a day with news, because the daily digest is on in your settings.
<a href="{{.Unsubscribe}}">Unsubscribe</a></p>
</body></html>
`))

// compose builds the mail of a user's digest for day (from is its local
// midnight) listing items, with the unsubscribe token's links.
func (r *Runner) compose(user, addr, day string, from time.Time, items []store.Notification, token string, now time.Time) (*Message, error) {
	v := view{
		Day:         from.Format("Monday, 2 January 2006"),
		AppURL:      r.link("/", "", ""),
		Unsubscribe: r.link("/settings/unsubscribe", "", token),
	}
	if len(items) > maxItems {
		v.More = len(items) - maxItems
		items = items[:maxItems]
	}
	for _, n := range items {
		v.Items = append(v.Items, item{Title: n.Title, Body: n.Body, Link: r.link("/children/"+url.PathEscape(n.ChildID), "", "")})
	}
	var text, html strings.Builder
	if err := textTemplate.Execute(&text, v); err != nil {
		return nil, err
	}
	if err := htmlTemplate.Execute(&html, v); err != nil {
		return nil, err
	}
	subject := "Kinbridge: 1 update on " + v.Day
	if n := len(items) + v.More; n != 1 {
		subject = "Kinbridge: " + strconv.Itoa(n) + " updates on " + v.Day
	}
	return &Message{
		To:        addr,
		Subject:   subject,
		Text:      text.String(),
		HTML:      html.String(),
		MessageID: MessageID(user, day, r.base.Hostname()),
		Date:      now,
		Headers: map[string]string{
			// RFC 8058: a mail client may POST List-Unsubscribe=One-Click
			// to the URL; the token in it is the credential.
			"List-Unsubscribe":      "<" + r.link("/v1/digest:unsubscribe", "token="+url.QueryEscape(token), "") + ">",
			"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
			"Auto-Submitted":        "auto-generated",
		},
	}, nil
}

// link is an absolute URL under the public base.
func (r *Runner) link(path, query, fragment string) string {
	u := *r.base
	u.Path = strings.TrimSuffix(r.base.Path, "/") + path
	u.RawQuery = query
	u.Fragment = fragment
	return u.String()
}
