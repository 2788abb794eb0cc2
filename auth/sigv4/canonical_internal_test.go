package sigv4

import (
	"net/url"
	"testing"
)

// The shortcut that reuses a query component as sent must agree with
// decoding and re-encoding it.
func TestCanonicalComponentShortcut(t *testing.T) {
	for raw, want := range map[string]string{
		"abc-_.~":   "abc-_.~",
		"a%2Fb":     "a%2Fb",
		"a%2fb":     "a%2Fb",
		"%7E":       "~",
		"a+b":       "a%20b",
		"a%20b":     "a%20b",
		"%C3%BC":    "%C3%BC",
		"a/b":       "a%2Fb",
		"x=y":       "x%3Dy",
		"":          "",
		"%41%2A%2a": "A%2A%2A",
	} {
		decoded, err := url.QueryUnescape(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := canonicalComponent(raw, decoded); got != want {
			t.Errorf("canonicalComponent(%q) = %q, want %q", raw, got, want)
		}
	}
}

func FuzzCanonicalComponent(f *testing.F) {
	for _, s := range []string{"a%2Fb", "%7e", "a+b%20", "%C3%BC/x", "%", "%4", "%%41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		decoded, err := url.QueryUnescape(raw)
		if err != nil {
			return
		}
		if got, want := canonicalComponent(raw, decoded), escape(decoded, false); got != want {
			t.Fatalf("canonicalComponent(%q) = %q, want %q", raw, got, want)
		}
	})
}
