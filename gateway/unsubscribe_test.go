package gateway

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestOneClickUnsubscribe(t *testing.T) {
	tests := []struct {
		name, target, contentType, body string
		wantBody, wantType              string
	}{
		{"RFC 8058 form post", unsubscribePath + "?token=abc_-1", "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click",
			`{"token":"abc_-1"}`, "application/json"},
		{"multipart form post", unsubscribePath + "?token=abc", "multipart/form-data; boundary=x",
			"--x\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--x--\r\n", `{"token":"abc"}`, "application/json"},
		{"a token that needs escaping in JSON", unsubscribePath + "?token=%22%5C", "", "", `{"token":"\"\\"}`, "application/json"},
		{"JSON body, no query token", unsubscribePath, "application/json", `{"token": "abc"}`, `{"token": "abc"}`, "application/json"},
		{"another route", "/v1/settings:confirmEmail?token=abc", "application/json", `{"token": "x"}`, `{"token": "x"}`, "application/json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", tc.target, strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			oneClickUnsubscribe(r)
			b, _ := io.ReadAll(r.Body)
			if string(b) != tc.wantBody || (tc.contentType != "" || tc.wantType != "") && r.Header.Get("Content-Type") != tc.wantType {
				t.Errorf("body %q (%s), want %q (%s)", b, r.Header.Get("Content-Type"), tc.wantBody, tc.wantType)
			}
			if r.ContentLength != int64(len(b)) && r.ContentLength != -1 {
				t.Errorf("Content-Length %d for %d bytes", r.ContentLength, len(b))
			}
		})
	}
}
