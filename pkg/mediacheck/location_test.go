package mediacheck

import (
	"bytes"
	"compress/zlib"
	"strings"
	"testing"
)

// TestFindBoundsPNGText: the location search inflates a PNG's text chunks
// up to one budget for the whole file, and a file over it is reported (the
// search fails closed) rather than inflated whole.
func TestFindBoundsPNGText(t *testing.T) {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(make([]byte, 1<<20))
	w.Close()
	chunks := [][]byte{pngIHDR(1, 1)}
	for range maxZlibText/(1<<20) + 1 {
		chunks = append(chunks, pngChunk("zTXt", append([]byte("Comment\x00\x00"), z.Bytes()...)))
	}
	found := Find(pngFile(append(chunks, pngIDAT1x1())...))
	if len(found) != 1 || !strings.Contains(found[0], "not searched") {
		t.Fatalf("Find = %q, want the budget reported", found)
	}
	if found := Find(pngFile(chunks[0], chunks[1], pngIDAT1x1())); len(found) != 0 {
		t.Fatalf("Find = %q on text within the budget", found)
	}
}
