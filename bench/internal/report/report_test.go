package report

import (
	"bytes"
	"strings"
	"testing"
)

func TestWriteReadPrint(t *testing.T) {
	dir := t.TempDir()
	a := NewRow("hops", "REST / gRPC GetChild", Figure{"REST", 500, "req/s"}, Figure{"gRPC", 1000, "req/s"}, ">= 0.5")
	b := NewRow("chain", "chain / bare", Figure{"chain", 300, "ns/op"}, Figure{"bare", 100, "ns/op"}, "<= 2")
	b.Counts = []Count{{Name: "allocs", Numerator: 120, Denominator: 80, Unit: "allocs/op"}}
	if err := Write(dir, "b", []Row{b}); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, "a", []Row{a}); err != nil {
		t.Fatal(err)
	}
	rows, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Name != a.Name || rows[1].Counts[0].Numerator != 120 {
		t.Fatalf("read back %+v", rows)
	}
	if m, ok := rows[0].Met(); !ok || !m {
		t.Errorf("0.5 >= 0.5: met %v ok %v", m, ok)
	}
	if m, ok := rows[1].Met(); !ok || m {
		t.Errorf("3 <= 2: met %v ok %v", m, ok)
	}
	var out bytes.Buffer
	if err := Print(&out, rows); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"REST / gRPC GetChild", "0.500", "3.000", "allocs 120 / 80 allocs/op", " no "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestNoDirWritesNothing(t *testing.T) {
	if err := Write("", "x", nil); err != nil {
		t.Fatal(err)
	}
}
