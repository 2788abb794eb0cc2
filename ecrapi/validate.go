package ecrapi

import (
	"regexp"
	"unicode/utf8"

	"github.com/coffer-registry/coffer/awsproto"
)

// Limits from ECR's model and quotas.
const (
	maxRepositoryTags  = 50
	maxTagKeyLength    = 128
	maxTagValueLength  = 256
	maxPolicyLength    = 10240
	maxImageTagLength  = 300
	maxManifestLength  = 4 << 20
	maxBatch           = 100
	maxExclusionFilter = 5
	minLayerPartSize   = 5 << 20
	maxLayerPartSize   = 20 << 20
	defaultPageSize    = 100
	maxPageSize        = 1000
)

var (
	repositoryNamePattern = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	layerDigestPattern    = regexp.MustCompile(`^[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+$`)
	exclusionFilterValue  = regexp.MustCompile(`^[0-9a-zA-Z._*-]{1,128}$`)
	tagKeyPattern         = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

func checkRepositoryName(name string) error {
	if len(name) < 2 || len(name) > 256 {
		return awsproto.ValidationFailed(awsproto.ProtocolJSON, []awsproto.Violation{{Path: "repositoryName", Value: &name,
			Constraint: "Member must have length less than or equal to 256 and greater than or equal to 2"}})
	}
	if !repositoryNamePattern.MatchString(name) {
		return invalidParameter("Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '%s''",
			`(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`)
	}
	return nil
}

// checkTags validates resource tags as ECR does (keys 1-128, values 0-256, AWS's character set).
func checkTags(keys []string, values []string) error {
	for i, k := range keys {
		if k == "" || utf8.RuneCountInString(k) > maxTagKeyLength || !tagKeyPattern.MatchString(k) {
			return invalidTagParameter("Invalid parameter at 'tags.%d.member.key' failed to satisfy constraint: "+
				"'Member must have length less than or equal to 128 and satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$'", i+1)
		}
		if len(k) >= 4 && k[:4] == "aws:" {
			return invalidTagParameter("Invalid parameter at 'tags.%d.member.key': tag keys cannot start with the reserved prefix 'aws:'", i+1)
		}
		if i < len(values) {
			v := values[i]
			if utf8.RuneCountInString(v) > maxTagValueLength || !tagKeyPattern.MatchString(v) {
				return invalidTagParameter("Invalid parameter at 'tags.%d.member.value' failed to satisfy constraint: "+
					"'Member must have length less than or equal to 256 and satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$'", i+1)
			}
		}
	}
	return nil
}

func checkImageTag(tag string) error {
	if tag == "" || len(tag) > maxImageTagLength {
		return invalidParameter("Invalid parameter at 'imageTag' failed to satisfy constraint: 'Member must have length less than or equal to 300 and greater than or equal to 1'")
	}
	return nil
}

// pageSize reads maxResults (1..limit) with ECR's default.
func pageSize(maxResults *int32, limit int) (int, error) {
	if maxResults == nil {
		return defaultPageSize, nil
	}
	if *maxResults < 1 || int(*maxResults) > limit {
		return 0, invalidParameter("Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value less than or equal to %d and greater than or equal to 1'", limit)
	}
	return int(*maxResults), nil
}
