package registry

import (
	_ "crypto/sha256" // digest algorithms that references may use
	_ "crypto/sha512"

	"github.com/opencontainers/go-digest"
)

// Grammars of the pieces a /v2/ path carries. Every piece is checked against its grammar
// before it is used, so no "..", "%2F" or other path trick can reach the stores. They are
// written out by hand: they run on every request, where the equivalent regular expressions
// (kept in names_test.go, which checks these against them) took about 3 % of a manifest
// request's CPU.

const (
	minRepositoryName = 2
	maxRepositoryName = 256
	maxTag            = 128
	maxUploadID       = 128
)

// validAccount: an AWS account id (ECR's RegistryId), twelve digits.
func validAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// validRepositoryName: ECR's RepositoryName grammar (iam-ecr-semantics.md §1.3), 2 to 256
// characters of components separated by "/"; a component is runs of [a-z0-9] joined by ".",
// "_", "__" or one or more "-".
func validRepositoryName(s string) bool {
	if len(s) < minRepositoryName || len(s) > maxRepositoryName {
		return false
	}
	for i := 0; ; {
		// At the start of a run of [a-z0-9], which must not be empty.
		start := i
		for i < len(s) && (isDigit(s[i]) || 'a' <= s[i] && s[i] <= 'z') {
			i++
		}
		if i == start {
			return false
		}
		if i == len(s) {
			return true
		}
		switch c := s[i]; c {
		case '/', '.':
			i++
		case '_':
			i++
			if i < len(s) && s[i] == '_' {
				i++
			}
		case '-':
			for i < len(s) && s[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

// validTag: the OCI tag grammar, [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
func validTag(s string) bool {
	if len(s) == 0 || len(s) > maxTag || s[0] == '.' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isWordChar(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// validUploadID: upload ids are bounded to characters that are safe in a path segment,
// [A-Za-z0-9_-]{1,128}.
func validUploadID(s string) bool {
	if len(s) == 0 || len(s) > maxUploadID {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isWordChar(c) && c != '-' {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isWordChar: [A-Za-z0-9_].
func isWordChar(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

// parseDigest accepts a digest whose algorithm is available (sha256, sha384, sha512) and
// whose encoded part is well formed.
func parseDigest(s string) (digest.Digest, bool) {
	d, err := digest.Parse(s)
	return d, err == nil
}
