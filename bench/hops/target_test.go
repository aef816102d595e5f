package main

import (
	"fmt"
	"testing"
)

func TestCheckPage(t *testing.T) {
	want := make([]string, pageSize)
	for i := range want {
		want[i] = fmt.Sprintf("children/c/assessments/a%02d", i)
	}
	if err := checkPage(want, want, 60); err != nil {
		t.Fatalf("the right page: %v", err)
	}
	lost := append([]string(nil), want[1:]...)
	doubled := append([]string{want[0]}, want[:pageSize-1]...)
	for name, got := range map[string][]string{"lost": lost, "doubled": doubled, "empty": nil} {
		if err := checkPage(want, got, 60); err == nil {
			t.Errorf("a page with an assessment %s passed", name)
		}
	}
	if err := checkPage(want[:10], want[:10], 60); err == nil {
		t.Error("a short first page of 60 seeded passed")
	}
}
