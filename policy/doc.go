// Package policy parses, validates and evaluates AWS IAM policy documents with AWS's semantics.
// It is pure (no I/O): compile a document once with Parse, then call Evaluate per request.
package policy
