package registry

import (
	"regexp"
	"strings"
	"testing"
)

// The grammars as regular expressions: the oracle the hand-written checks in names.go must
// agree with.
var (
	accountOracle    = regexp.MustCompile(`^[0-9]{12}$`)
	repositoryOracle = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagOracle        = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
	uploadIDOracle   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

// checkGrammars fails when a hand-written check and its regular expression disagree on s.
func checkGrammars(t *testing.T, s string) {
	t.Helper()
	repo := len(s) >= minRepositoryName && len(s) <= maxRepositoryName && repositoryOracle.MatchString(s)
	for _, c := range []struct {
		name      string
		got, want bool
	}{
		{"validAccount", validAccount(s), accountOracle.MatchString(s)},
		{"validRepositoryName", validRepositoryName(s), repo},
		{"validTag", validTag(s), tagOracle.MatchString(s)},
		{"validUploadID", validUploadID(s), uploadIDOracle.MatchString(s)},
	} {
		if c.got != c.want {
			t.Errorf("%s(%q) = %v, the grammar says %v", c.name, s, c.got, c.want)
		}
	}
}

func TestNameGrammarsAgreeWithTheirExpressions(t *testing.T) {
	inputs := []string{
		"", "a", "ab", "0a", "A", "AB", "ab/cd", "ab/", "/ab", "a//b", "a.b", "a..b", "a_b", "a__b",
		"a___b", "a-b", "a--b", "a---b", "a.-b", "a-.b", "a_-b", "a._b", "a-", "a_", "a.", "-a",
		"_a", ".a", "a/b.c_d__e-f--g/h", "a/-b", "a/_b", "a/.b", "123456789012", "12345678901",
		"1234567890123", "12345678901a", "latest", "v1.0", "_x", ".x", "-x", "x-", "x.", "X_Y-Z.1",
		"sha256:abc", "ab\x00", "ab\u00e9", "\u00e9ab", "b94fdae4-1f36-4a54-8092-ae8ea45de8c3",
		strings.Repeat("a", 128), strings.Repeat("a", 129), strings.Repeat("a", 256),
		strings.Repeat("a", 257), strings.Repeat("ab/", 85) + "a", strings.Repeat("_", 128),
	}
	for _, s := range inputs {
		checkGrammars(t, s)
	}
}

func FuzzNameGrammars(f *testing.F) {
	for _, s := range []string{"team/app", "a__b-c.d/e", "v1.2_3-rc", "123456789012", "a.-b", "_x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkGrammars(t, s)
	})
}

// BenchmarkNameChecks compares the hand-written checks with the regular expressions they
// replaced, on the pieces of a typical manifest request (account, repository, tag).
func BenchmarkNameChecks(b *testing.B) {
	const account, repo, tag = "123456789012", "team/service-api", "v1.42.0"
	b.Run("regexp", func(b *testing.B) {
		for b.Loop() {
			if !accountOracle.MatchString(account) || !repositoryOracle.MatchString(repo) || !tagOracle.MatchString(tag) {
				b.Fatal("rejected")
			}
		}
	})
	b.Run("by-hand", func(b *testing.B) {
		for b.Loop() {
			if !validAccount(account) || !validRepositoryName(repo) || !validTag(tag) {
				b.Fatal("rejected")
			}
		}
	})
}
