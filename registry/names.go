package registry

import (
	_ "crypto/sha256" // digest algorithms that references may use
	_ "crypto/sha512"
	"regexp"

	"github.com/opencontainers/go-digest"
)

// Grammars of the pieces a /v2/ path carries. Every piece is checked against its grammar
// before it is used, so no "..", "%2F" or other path trick can reach the stores.
var (
	// accountPattern is an AWS account id (ECR's RegistryId).
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
	// repositoryPattern is ECR's RepositoryName grammar (iam-ecr-semantics.md §1.3).
	repositoryPattern = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	// tagPattern is the OCI tag grammar.
	tagPattern = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
	// uploadIDPattern bounds upload ids to characters that are safe in a path segment.
	uploadIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

const (
	minRepositoryName = 2
	maxRepositoryName = 256
)

func validAccount(s string) bool { return accountPattern.MatchString(s) }

func validRepositoryName(s string) bool {
	return len(s) >= minRepositoryName && len(s) <= maxRepositoryName && repositoryPattern.MatchString(s)
}

func validTag(s string) bool { return tagPattern.MatchString(s) }

// parseDigest accepts a digest whose algorithm is available (sha256, sha384, sha512) and
// whose encoded part is well formed.
func parseDigest(s string) (digest.Digest, bool) {
	d, err := digest.Parse(s)
	return d, err == nil
}
