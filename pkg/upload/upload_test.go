package upload

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"testing/iotest"
)

func TestSend(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 10) // 100 bytes
	boom := errors.New("boom")
	tests := []struct {
		name     string
		r        io.Reader
		buf      int
		failSend int // the send that fails, from 1; 0 for none
		chunks   []int
		sent     int64
		err      error
		readErr  bool
	}{
		{"a whole number of chunks", bytes.NewReader(data), 25, 0, []int{25, 25, 25, 25}, 100, nil, false},
		{"a short last chunk", bytes.NewReader(data), 30, 0, []int{30, 30, 30, 10}, 100, nil, false},
		{"one byte at a time from the reader", iotest.OneByteReader(bytes.NewReader(data)), 40, 0, []int{40, 40, 20}, 100, nil, false},
		{"nothing", bytes.NewReader(nil), 10, 0, nil, 0, nil, false},
		{"the send fails", bytes.NewReader(data), 30, 2, []int{30, 30}, 30, boom, false},
		{"the reader fails: what it read is sent first", io.MultiReader(bytes.NewReader(data[:15]), iotest.ErrReader(boom)), 10, 0, []int{10, 5}, 15, boom, true},
		{"the reader fails and so does the send: the read wins", io.MultiReader(bytes.NewReader(data[:5]), iotest.ErrReader(boom)), 10, 1, []int{5}, 0, boom, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := make([]byte, tt.buf)
			var chunks []int
			var totals []int64
			n, err := Send(tt.r, buf, func(b []byte) error {
				chunks = append(chunks, len(b))
				if &b[0] != &buf[0] {
					t.Error("a chunk is not in the buffer given")
				}
				if len(chunks) == tt.failSend {
					return boom
				}
				return nil
			}, func(n int64) { totals = append(totals, n) })
			if !slices.Equal(chunks, tt.chunks) || n != tt.sent || !errors.Is(err, tt.err) {
				t.Fatalf("chunks %v, sent %d, err %v; want %v, %d, %v", chunks, n, err, tt.chunks, tt.sent, tt.err)
			}
			var re *ReadError
			if errors.As(err, &re) != tt.readErr {
				t.Fatalf("read error %v: %v", tt.readErr, err)
			}
			if len(totals) > 0 && totals[len(totals)-1] != n {
				t.Fatalf("the last total heard %d, sent %d", totals[len(totals)-1], n)
			}
		})
	}
	if _, err := Send(bytes.NewReader(data), nil, func([]byte) error { return nil }, nil); err == nil {
		t.Fatal("an empty buffer was accepted")
	}
}
