package iam

import "github.com/coffer-registry/coffer/policy"

// ValidatePolicyDocument checks a policy document of the given kind with the policy engine,
// the same parser that later evaluates it (PolicyKind values equal policy.Kind values). It is
// what iamsql.Config.ValidatePolicy is set to wherever the store is opened for real.
func ValidatePolicyDocument(doc string, kind PolicyKind) error {
	_, err := policy.Parse([]byte(doc), policy.Kind(kind))
	return err
}
