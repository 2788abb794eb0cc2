package policy

import "fmt"

// MalformedError is a document that AWS would reject with MalformedPolicyDocument;
// Message is AWS's text.
type MalformedError struct {
	Message string
}

func (e *MalformedError) Error() string { return e.Message }

// Code is the AWS error code for this error.
func (e *MalformedError) Code() string { return "MalformedPolicyDocument" }

func malformed(msg string) *MalformedError { return &MalformedError{Message: msg} }

func malformedf(format string, args ...any) *MalformedError {
	return &MalformedError{Message: fmt.Sprintf(format, args...)}
}

// SizeError is a document larger than its kind allows.
type SizeError struct {
	Kind  Kind
	Limit int // characters allowed
	Size  int // characters counted (whitespace excluded where AWS excludes it)
}

func (e *SizeError) Error() string {
	switch e.Kind {
	case KindManaged, KindBoundary:
		return fmt.Sprintf("Cannot exceed quota for PolicySize: %d", e.Limit)
	case KindTrust:
		return fmt.Sprintf("Cannot exceed quota for ACLSizePerRole: %d", e.Limit)
	case KindInlineUser, KindInlineGroup, KindInlineRole:
		return fmt.Sprintf("Maximum policy size of %d bytes exceeded", e.Limit)
	case KindSession:
		return fmt.Sprintf("1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to %d", e.Limit)
	case KindRepository, KindRegistry:
		return fmt.Sprintf("Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Member must have length less than or equal to %d'", e.Limit)
	case KindSCP, KindRCP:
		return fmt.Sprintf("The provided policy document exceeds the maximum size of %d characters.", e.Limit)
	}
	return fmt.Sprintf("policy size %d exceeds the limit of %d", e.Size, e.Limit)
}

// Code is the AWS error code the owning API returns for an oversized policy.
func (e *SizeError) Code() string {
	switch e.Kind {
	case KindSession:
		return "ValidationError"
	case KindRepository, KindRegistry:
		return "InvalidParameterException"
	case KindSCP, KindRCP:
		return "ConstraintViolationException"
	}
	return "LimitExceeded"
}
