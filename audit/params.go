package audit

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
)

// Hidden replaces a secret in requestParameters (CloudTrail's own marker).
const Hidden = "HIDDEN_DUE_TO_SECURITY_REASONS"

const (
	// maxValue is the longest string value kept as it is; longer ones (layer parts,
	// manifests) are replaced by their size. Policy documents may be longer.
	maxValue = 2048
	// maxPolicy is the longest policy document kept.
	maxPolicy = 32 << 10
)

// secretWords mark parameter names whose values are never recorded (compared in lower case,
// without separators): access key secrets, passwords, session and registry tokens, MFA
// codes and seeds, private keys.
var secretWords = []string{"secret", "password", "token", "credential", "privatekey",
	"authenticationcode", "seed", "authorization"}

// keptTokens are names that contain "token" but are not secrets (pagination).
var keptTokens = map[string]bool{"nexttoken": true, "marker": true}

// policyNames are parameters holding a policy document, kept up to maxPolicy.
var policyNames = map[string]bool{"policytext": true, "policydocument": true, "assumerolepolicydocument": true,
	"policy": true, "lifecyclepolicytext": true, "content": true}

// blobNames are parameters holding bytes that matter to no decision: only their size is kept.
var blobNames = map[string]bool{"layerpartblob": true}

func normalize(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		}
		return -1
	}, name)
}

// isSecret reports whether a parameter name holds a secret. Query names such as
// "Tags.member.1.Value" are judged by their last segment that is not a number.
func isSecret(name string) bool {
	n := normalize(lastSegment(name))
	if keptTokens[n] {
		return false
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func lastSegment(name string) string {
	parts := strings.Split(name, ".")
	for i := len(parts) - 1; i >= 0; i-- {
		if _, err := strconv.Atoi(parts[i]); err != nil && parts[i] != "member" && parts[i] != "entry" {
			return parts[i]
		}
	}
	return name
}

// redactValue returns what is recorded for the value of parameter name.
func redactValue(name string, v any) any {
	if isSecret(name) {
		return Hidden
	}
	n := normalize(lastSegment(name))
	switch x := v.(type) {
	case string:
		limit := maxValue
		if policyNames[n] {
			limit = maxPolicy
		}
		if blobNames[n] || len(x) > limit {
			return "<omitted: " + strconv.Itoa(len(x)) + " bytes>"
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = redactValue(k, e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactValue(name, e)
		}
		return out
	}
	return v
}

// JSONParameters are the requestParameters of a JSON-protocol body (ECR, Organizations),
// with secrets hidden and bulky values reduced to their size.
func JSONParameters(body []byte) map[string]any {
	out := map[string]any{}
	if len(bytes.TrimSpace(body)) == 0 {
		return out
	}
	var in map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return map[string]any{"unparsedBody": "<omitted: " + strconv.Itoa(len(body)) + " bytes>"}
	}
	for k, v := range in {
		out[k] = redactValue(k, v)
	}
	return out
}

// QueryParameters are the requestParameters of a query-protocol request (IAM, STS), without
// Action and Version, with secrets hidden.
func QueryParameters(params url.Values) map[string]any {
	out := map[string]any{}
	for k, vs := range params {
		if k == "Action" || k == "Version" || strings.HasPrefix(k, "X-Amz-") {
			continue // X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token of presigned calls
		}
		if len(vs) == 1 {
			out[k] = redactValue(k, vs[0])
			continue
		}
		list := make([]any, len(vs))
		for i, v := range vs {
			list[i] = redactValue(k, v)
		}
		out[k] = list
	}
	return out
}
