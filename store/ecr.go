package store

import (
	"errors"
	"strings"

	"github.com/opencontainers/go-digest"
	"time"
)

// Errors of the ECR metadata methods.
var (
	// ErrTagImmutable: PutManifest would move a tag that the repository's tag mutability
	// setting makes immutable. Returned as *TagImmutableError.
	ErrTagImmutable = errors.New("store: tag is immutable")
	// ErrPolicyNotFound: the registry has no registry policy.
	ErrPolicyNotFound = errors.New("store: policy not found")
)

// TagImmutableError names the immutable tag a push tried to move.
type TagImmutableError struct{ Tag string }

func (e *TagImmutableError) Error() string { return "store: tag " + e.Tag + " is immutable" }

// Is makes errors.Is(err, ErrTagImmutable) true.
func (e *TagImmutableError) Is(target error) bool { return target == ErrTagImmutable }

// ECR's tag mutability modes.
const (
	TagMutable                = "MUTABLE"
	TagImmutable              = "IMMUTABLE"
	TagImmutableWithExclusion = "IMMUTABLE_WITH_EXCLUSION" // immutable except tags matching a filter
	TagMutableWithExclusion   = "MUTABLE_WITH_EXCLUSION"   // mutable except tags matching a filter
)

// RepositorySettings are a repository's ECR settings.
type RepositorySettings struct {
	TagMutability string // one of the Tag* modes; "" means TagMutable
	// TagMutabilityExclusions are ECR's WILDCARD filters: '*' matches any run of characters.
	TagMutabilityExclusions []string
	ScanOnPush              bool
	EncryptionType          string // AES256, KMS or KMS_DSSE; "" means AES256
	KMSKey                  string
}

// TagImmutable reports whether a pushed tag may not be moved to another image.
func (s RepositorySettings) TagImmutable(tag string) bool {
	matched := false
	for _, f := range s.TagMutabilityExclusions {
		if wildcardMatch(f, tag) {
			matched = true
			break
		}
	}
	switch s.TagMutability {
	case TagImmutable:
		return true
	case TagImmutableWithExclusion:
		return !matched
	case TagMutableWithExclusion:
		return matched
	}
	return false
}

// wildcardMatch matches s against a pattern where '*' stands for any run of characters.
func wildcardMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// Image is what ECR's ListImages and DescribeImages report about one stored manifest.
type Image struct {
	Digest       digest.Digest
	MediaType    string
	ArtifactType string
	Subject      digest.Digest
	// Size is ECR's imageSizeInBytes: the sum of the layer sizes of an image manifest (its
	// config excluded), the largest child's size for an index.
	Size         int64
	Tags         []string // in lexical order
	PushedAt     time.Time
	LastPulledAt time.Time // zero when never pulled
}

// ImageQuery selects images in digest order.
type ImageQuery struct {
	From      digest.Digest // first digest to return (inclusive); "" starts at the beginning
	Limit     int           // <= 0: all
	TagStatus string        // "TAGGED", "UNTAGGED" or "" for both
}
