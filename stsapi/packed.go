package stsapi

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
)

// packedBudget is how many compressed bytes of session policies and session tags a session may
// carry. AWS packs them into the session token with an undocumented binary format and reports
// the share of its limit used as PackedPolicySize; Coffer measures DEFLATE-compressed bytes of
// the compacted policy, the policy ARNs and the tags against this budget.
const packedBudget = 2048

// packedPolicySize returns the percentage of the packed budget the session policies and tags
// use, or PackedPolicyTooLarge when they pass it.
func packedPolicySize(doc string, arns []string, tags []iam.Tag, transitive []string) (int, error) {
	var plain bytes.Buffer
	if doc != "" {
		if err := json.Compact(&plain, []byte(doc)); err != nil {
			plain.WriteString(doc) // the store rejects malformed documents with their own error
		}
	}
	for _, a := range arns {
		plain.WriteString("\x00" + a)
	}
	for _, t := range tags {
		plain.WriteString("\x00" + t.Key + "=" + t.Value)
	}
	plain.WriteString("\x00" + strings.Join(transitive, ","))
	var packed bytes.Buffer
	w, _ := flate.NewWriter(&packed, flate.BestCompression)
	w.Write(plain.Bytes())
	w.Close()
	percent := (packed.Len()*100 + packedBudget - 1) / packedBudget
	if percent > 100 {
		return 0, &awsproto.Error{Code: "PackedPolicyTooLarge", Status: http.StatusBadRequest, Message: fmt.Sprintf(
			"Packed size of the session policies and session tags is %d%% of the allowed size.", percent)}
	}
	return percent, nil
}
