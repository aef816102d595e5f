package ingest

import (
	"bytes"
	"testing"
)

// TestKeepCodecConfig: an avcC keeps its parameter sets and nothing after
// them; an hvcC keeps its VPS, SPS and PPS arrays and drops SEI; records
// cut short or holding a unit of the wrong type are refused.
func TestKeepCodecConfig(t *testing.T) {
	planted := []byte("+48.8584+002.2945/")
	sps := []byte{0x67, 0x64, 0x00, 0x1F}
	pps := []byte{0x68, 0xEE, 0x3C, 0x80}
	unit := func(u []byte) []byte { return append([]byte{0, byte(len(u))}, u...) }
	avcC := append([]byte{1, 0x42, 0xC0, 0x1E, 0xFF, 0xE1}, unit(sps)...)
	avcC = append(append(avcC, 1), unit(pps)...)
	got, ok := keepAvcC(append(bytes.Clone(avcC), planted...))
	if !ok || !bytes.Equal(got, avcC) {
		t.Errorf("avcC with trailing bytes: %x, %v; want %x", got, ok, avcC)
	}
	if _, ok := keepAvcC(avcC[:len(avcC)-2]); ok {
		t.Error("an avcC cut short was kept")
	}
	wrong := bytes.Clone(avcC)
	wrong[8] = 0x66 // the SPS slot holds a NAL unit of type 6 (SEI)
	if _, ok := keepAvcC(wrong); ok {
		t.Error("an avcC whose SPS is an SEI was kept")
	}

	array := func(typ byte, u []byte) []byte { return append([]byte{0x80 | typ, 0, 1}, unit(u)...) }
	fixed := make([]byte, 22)
	fixed[0] = 1
	vps, hsps, hpps := []byte{0x40, 0x01, 0x0C}, []byte{0x42, 0x01, 0x01}, []byte{0x44, 0x01, 0xC1}
	sei := append([]byte{0x4E, 0x01, 0x05}, planted...)
	hvcC := append(bytes.Clone(fixed), 4)
	for _, a := range [][]byte{array(32, vps), array(33, hsps), array(34, hpps), array(39, sei)} {
		hvcC = append(hvcC, a...)
	}
	want := append(bytes.Clone(fixed), 3)
	for _, a := range [][]byte{array(32, vps), array(33, hsps), array(34, hpps)} {
		want = append(want, a...)
	}
	got, ok = keepHvcC(append(hvcC, planted...))
	if !ok || !bytes.Equal(got, want) {
		t.Errorf("hvcC: %x, %v; want %x", got, ok, want)
	}
	if _, ok := keepHvcC(hvcC[:30]); ok {
		t.Error("an hvcC cut short was kept")
	}
}
