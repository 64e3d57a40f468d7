package suggest

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"address", "user", "port", "identity_file", "vars"}
	for _, tc := range []struct{ word, want string }{
		{"adress", "address"},
		{"prot", "port"},
		{"identityfile", "identity_file"},
		{"user", ""}, // an exact match is no typo
		{"zzzzzz", ""},
		{"", ""},
	} {
		if got := Closest(tc.word, known); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"kitten", "sitting", 3}, {"abc", "", 3}, {"flaw", "lawn", 2}} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
