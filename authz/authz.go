// Package authz decides whether the caller of a request may perform an action on a resource:
// it gathers the caller's policies, builds the request context and asks the policy engine.
package authz

import (
	"context"

	"github.com/coffer-registry/coffer/policy"
)

// Check is one authorization question an operation asks before it does any work.
type Check struct {
	Action          string         // "iam:CreateUser", "ecr:BatchGetImage", ...
	Resource        string         // the resource ARN, or "*" for actions without a resource type
	ResourceAccount string         // the account owning the resource; "" means the caller's account
	ResourcePolicy  *policy.Policy // the resource-based policy (repository, registry or trust policy), nil if none
	// RegistryPolicy is ECR's registry policy of the resource's account, which its V2 scope
	// enforces beside the repository policy on every ECR request (nil if none): the two
	// decide as one resource side (policy.PolicySet.Registry).
	RegistryPolicy *policy.Policy
	// Keys are the request-specific condition keys the operation adds to the context built
	// from the caller and the connection: aws:RequestTag/K, aws:TagKeys, aws:ResourceTag/K,
	// ecr:ResourceTag/K, iam:PolicyARN, sts:ExternalId, ...
	Keys []Key
}

// Key is one condition key with its typed values.
type Key struct {
	Name   string
	Type   policy.ValueType
	Values []string
}

// Authorizer answers Checks for the caller found in the context (auth.CallerFrom).
type Authorizer interface {
	// Authorize returns nil when the caller may act, or an *AccessDeniedError carrying AWS's
	// sentence. Any other error is a failure to decide (the request fails closed).
	Authorize(ctx context.Context, c Check) error
}

// AccessDeniedError is a denied Check. Message is AWS's AccessDenied sentence, e.g.
// "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: iam:CreateUser on
// resource: arn:aws:iam::111122223333:user/bob because no identity-based policy allows the
// iam:CreateUser action".
type AccessDeniedError struct {
	Message  string
	Decision policy.Decision
	// Code is the error code on the wire: CodeAccessDenied for the query APIs (IAM, STS),
	// CodeAccessDeniedException for the JSON APIs (ECR, Organizations) and the registry.
	Code string
}

// AWS's codes for a denied request.
const (
	CodeAccessDenied          = "AccessDenied"          // IAM, STS: HTTP 403
	CodeAccessDeniedException = "AccessDeniedException" // ECR, Organizations: HTTP 400
)

func (e *AccessDeniedError) Error() string { return e.Message }

// AWSError gives the wire form (awsproto.AWSErrorer): AccessDenied with HTTP 403 as IAM and
// STS answer, AccessDeniedException with HTTP 400 as ECR and Organizations answer.
func (e *AccessDeniedError) AWSError() (code, message string, status int) {
	if e.Code == CodeAccessDenied {
		return CodeAccessDenied, e.Message, 403
	}
	return CodeAccessDeniedException, e.Message, 400
}
