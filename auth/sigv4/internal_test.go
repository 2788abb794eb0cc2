package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/url"
	"strconv"
	"testing"

	"pgregory.net/rapid"
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

// The allocation-free HMAC agrees with crypto/hmac.
func TestHMACSHA256MatchesCryptoHMAC(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		key := [sha256.Size]byte(rapid.SliceOfN(rapid.Byte(), sha256.Size, sha256.Size).Draw(t, "key"))
		msg := rapid.SliceOf(rapid.Byte()).Draw(t, "msg")
		padded := append(make([]byte, sha256.BlockSize), msg...)
		got := hmacSHA256(&key, padded)
		mac := hmac.New(sha256.New, key[:])
		mac.Write(msg)
		if !hmac.Equal(got[:], mac.Sum(nil)) {
			t.Fatalf("hmac mismatch for key %x msg %x", key, msg)
		}
	})
}

// The signing-key cache stays bounded and keeps answering correctly when it
// is emptied.
func TestKeyCacheBounded(t *testing.T) {
	var c keyCache
	first := c.get("secret", "20261124", "us-east-1", "ecr")
	for i := range maxCachedKeys + 10 {
		c.get("secret", "20261124", "region-"+strconv.Itoa(i), "ecr")
	}
	if n := len(c.keys); n > maxCachedKeys {
		t.Fatalf("cache holds %d keys", n)
	}
	if again := c.get("secret", "20261124", "us-east-1", "ecr"); again != first {
		t.Fatal("derived key changed")
	}
	if deriveKey("secret", "20261124", "us-east-1", "ecr") != first {
		t.Fatal("cached key differs from a fresh derivation")
	}
}
