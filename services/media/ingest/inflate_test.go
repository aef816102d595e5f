package ingest

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// The one budget for what a file's compressed metadata inflates to: every
// compressed chunk draws from it, kept or dropped, so many small chunks
// cannot add up to a bomb.

// compressedChunks returns n chunks of type typ, each inflating to size
// bytes of zeros (a few hundred bytes each in the file).
func compressedChunks(typ string, n, size int) [][]byte {
	z := zlibBytes(make([]byte, size))
	var out [][]byte
	for i := range n {
		var data []byte
		switch typ {
		case "zTXt":
			data = append([]byte(fmt.Sprintf("Comment %d\x00\x00", i)), z...)
		case "iTXt": // compressed, with a language tag and a translated keyword
			data = append([]byte(fmt.Sprintf("Comment %d\x00\x01\x00en\x00Kommentar\x00", i)), z...)
		case "iCCP":
			data = append([]byte(fmt.Sprintf("profile %d\x00\x00", i)), z...)
		}
		out = append(out, testPNGChunk(typ, data))
	}
	return out
}

func TestRebuildPNGInflateBudget(t *testing.T) {
	base := basePNG(t, gradient())
	const mib = 1 << 20
	over := maxInflated/mib + 1
	mixed := append(append(compressedChunks("zTXt", over/3, mib), compressedChunks("iTXt", over/3, mib)...),
		compressedChunks("iCCP", over-2*(over/3), mib)...)
	for name, chunks := range map[string][][]byte{
		"many zTXt":                compressedChunks("zTXt", over, mib),
		"many compressed iTXt":     compressedChunks("iTXt", over, mib),
		"many iCCP, one kept":      compressedChunks("iCCP", over, mib),
		"zTXt, iTXt and iCCP":      mixed,
		"one zTXt bomb":            compressedChunks("zTXt", 1, maxInflated+1),
		"thousands of small zTXts": compressedChunks("zTXt", 4*maxInflated/(64<<10), 64<<10),
	} {
		t.Run(name, func(t *testing.T) {
			data := base.insert(1, chunks...).bytes()
			refused(t, data)
			_, err := Rebuild(bytes.NewReader(data), int64(len(data)), typePNG, Options{})
			if !strings.Contains(err.Error(), "compressed metadata") {
				t.Errorf("the refusal does not say why: %v", err)
			}
		})
	}
	// Within the budget, the same chunks are measured and dropped.
	under := base.insert(1, compressedChunks("zTXt", maxInflated/mib-1, mib)...).bytes()
	if out, _ := checkRebuilt(t, under, true); bytes.Contains(out, []byte("zTXt")) {
		t.Error("zTXt chunks were kept")
	}
}

// TestRebuildPNGInflateBudgetHoldsNothing: refusing a file whose text
// chunks would inflate to a gigabyte takes a few hundred kilobytes, not
// the gigabyte, nor even the budget.
func TestRebuildPNGInflateBudgetHoldsNothing(t *testing.T) {
	base := basePNG(t, gradient())
	data := base.insert(1, compressedChunks("zTXt", 1024, 1<<20)...).bytes()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Rebuild(bytes.NewReader(data), int64(len(data)), typePNG, Options{})
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("a PNG whose text inflates to 1 GiB was accepted")
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > maxInflated/4 {
		t.Errorf("refusing it allocated %d bytes", alloc)
	}
}
