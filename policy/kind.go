package policy

import "fmt"

// Kind says where a policy document is attached; it decides which elements are
// required or forbidden, the size limit, and how the evaluator uses the policy.
// The numeric values are stable (the iam package converts its kinds by value); new kinds
// are added at the end.
type Kind uint8

const (
	KindManaged     Kind = iota + 1 // customer managed identity policy
	KindInlineUser                  // inline policy embedded in a user
	KindInlineGroup                 // inline policy embedded in a group
	KindInlineRole                  // inline policy embedded in a role
	KindTrust                       // role trust policy (resource policy of sts:AssumeRole)
	KindBoundary                    // permissions boundary (a managed policy used as a boundary)
	KindSession                     // session policy passed to AssumeRole or GetFederationToken
	KindRepository                  // ECR repository policy
	KindRegistry                    // ECR registry policy
	KindSCP                         // Organizations service control policy
	KindRCP                         // Organizations resource control policy
	// KindAWSManaged is a managed policy published by AWS (arn:aws:iam::aws:policy/...),
	// used as an identity policy, a permissions boundary or a session policy. Its grammar is
	// KindManaged's, but it has no size limit: AWS's own documents (ReadOnlyAccess) are
	// larger than customers may write.
	KindAWSManaged
)

var kindNames = map[Kind]string{
	KindManaged: "managed", KindInlineUser: "inline-user", KindInlineGroup: "inline-group",
	KindInlineRole: "inline-role", KindTrust: "trust", KindBoundary: "boundary", KindSession: "session",
	KindRepository: "repository", KindRegistry: "registry", KindSCP: "scp", KindRCP: "rcp",
	KindAWSManaged: "aws-managed",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// SizeLimit is AWS's maximum policy size in characters for this kind; 0 means no limit
// (KindAWSManaged) or an unknown kind.
func (k Kind) SizeLimit() int {
	switch k {
	case KindManaged, KindBoundary:
		return 6144
	case KindInlineUser, KindTrust, KindSession:
		return 2048
	case KindInlineGroup, KindSCP, KindRCP:
		return 5120
	case KindInlineRole, KindRepository, KindRegistry:
		return 10240
	}
	return 0
}

// CountsWhitespace reports whether whitespace counts toward SizeLimit. IAM does not count it
// for identity, boundary and trust policies; STS, ECR and Organizations count every character.
func (k Kind) CountsWhitespace() bool {
	switch k {
	case KindSession, KindRepository, KindRegistry, KindSCP, KindRCP:
		return true
	}
	return false
}

// known reports whether k is one of the kinds above.
func (k Kind) known() bool { return k >= KindManaged && k <= KindAWSManaged }

// resourceBased reports whether statements name a Principal (resource and trust policies).
func (k Kind) resourceBased() bool {
	return k == KindTrust || k == KindRepository || k == KindRegistry
}

// requiresModernVersion reports whether Version must be 2012-10-17 (IAM-managed documents).
func (k Kind) requiresModernVersion() bool {
	return k != KindRepository && k != KindRegistry
}
