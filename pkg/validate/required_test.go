package validate

import "testing"

func TestRequiredPath(t *testing.T) {
	for _, tt := range []struct{ path, rule, want string }{
		{"guardianship", "guardianship.user.required", "guardianship.user"},
		{"child", "child.display_name.required", "child.display_name"},
		{"child", "string.min_len", "child"},                      // a rule of the field itself
		{"child", "child.display_name_required", "child"},         // not the convention
		{"child", "guardianship.user.required", "child"},          // another field's rule
		{"child", "child.a.b.required", "child"},                  // only a direct field
		{"child", "child..required", "child"},                     // no field named
		{"guardianship", "guardianship.required", "guardianship"}, // the field itself
		{"items[1]", "items[1].name.required", "items[1].name"},   // an element's field
	} {
		if got := requiredPath(tt.path, tt.rule); got != tt.want {
			t.Errorf("requiredPath(%q, %q) = %q, want %q", tt.path, tt.rule, got, tt.want)
		}
	}
}
