package ingest

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// TestKeepICC: a kept colour profile holds the colour-defining tags and the
// fixed description; free text (copyright, a description naming a place)
// and vendor tags are gone, the header's device and creator fields are
// blank, and keeping a kept profile changes nothing.
func TestKeepICC(t *testing.T) {
	be := binary.BigEndian
	p := testICC()
	copy(p[48:56], "APPLiPho") // device manufacturer and model
	copy(p[80:84], "Pari")     // creator
	out := keepICC(p)
	if out == nil {
		t.Fatal("a profile with a white point was dropped")
	}
	for _, planted := range []string{"PLANTED", "+48.8584", "APPL", "Pari"} {
		if bytes.Contains(out, []byte(planted)) {
			t.Errorf("%q survived", planted)
		}
	}
	if int(be.Uint32(out)) != len(out) || string(out[36:40]) != "acsp" || string(out[12:24]) != "mntrRGB XYZ " {
		t.Errorf("header %q", out[:128])
	}
	sigs := map[string]bool{}
	for i := range int(be.Uint32(out[128:])) {
		sigs[string(out[132+12*i:136+12*i])] = true
	}
	if !sigs["wtpt"] || !sigs["desc"] || len(sigs) != 2 {
		t.Errorf("tags %v, want wtpt and desc", sigs)
	}
	if again := keepICC(out); !bytes.Equal(again, out) {
		t.Error("keeping a kept profile changed it")
	}
	for name, bad := range map[string][]byte{
		"short":             p[:100],
		"no signature":      append(append([]byte{}, p[:36]...), append([]byte("xxxx"), p[40:]...)...),
		"size past the end": append(be.AppendUint32(nil, uint32(len(p)+10)), p[4:]...),
		"only free text":    iccWith(t, "cprt"),
	} {
		if keepICC(bad) != nil {
			t.Errorf("%s: kept, want dropped", name)
		}
	}
}

// iccWith is testICC with only the tags named.
func iccWith(t *testing.T, sigs ...string) []byte {
	t.Helper()
	be := binary.BigEndian
	p := testICC()
	n := int(be.Uint32(p[128:]))
	var keep [][]byte
	for i := range n {
		e := p[132+12*i : 144+12*i]
		for _, s := range sigs {
			if string(e[:4]) == s {
				keep = append(keep, e)
			}
		}
	}
	out := append([]byte{}, p...)
	be.PutUint32(out[128:], uint32(len(keep)))
	for i, e := range keep {
		copy(out[132+12*i:], e)
	}
	return out
}
