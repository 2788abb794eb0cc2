package iam

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// The files under managed/ hold AWS's published documents and metadata of each built-in policy;
// ReadOnlyAccess is version v182 (updated by AWS 2026-04-03). Policy ids are derived, AWS does not publish them.
//
//go:embed managed/*.json
var managedFiles embed.FS

// managedPolicyFile is the layout of one file under managed/.
type managedPolicyFile struct {
	PolicyName       string
	Path             string
	Arn              string
	Description      string
	DefaultVersionId string
	CreateDate       time.Time
	UpdateDate       time.Time
	Document         json.RawMessage
}

// AWSManagedPolicy is a built-in policy with its default version's document.
type AWSManagedPolicy struct {
	Policy   ManagedPolicy
	Document string
}

var awsManaged = loadAWSManaged()

func loadAWSManaged() map[string]*AWSManagedPolicy {
	entries, err := managedFiles.ReadDir("managed")
	if err != nil {
		panic(err)
	}
	out := make(map[string]*AWSManagedPolicy, len(entries))
	for _, e := range entries {
		raw, err := managedFiles.ReadFile("managed/" + e.Name())
		if err != nil {
			panic(err)
		}
		var f managedPolicyFile
		if err := json.Unmarshal(raw, &f); err != nil {
			panic(fmt.Sprintf("iam: managed/%s: %v", e.Name(), err))
		}
		var doc bytes.Buffer
		if err := json.Indent(&doc, f.Document, "", "    "); err != nil {
			panic(err)
		}
		if want := PolicyARN(AWSManagedAccount, f.Path, f.PolicyName); want != f.Arn {
			panic(fmt.Sprintf("iam: managed/%s: ARN %s, want %s", e.Name(), f.Arn, want))
		}
		out[f.Arn] = &AWSManagedPolicy{
			Policy: ManagedPolicy{
				AccountID:        AWSManagedAccount,
				ID:               awsManagedPolicyID(f.PolicyName),
				Name:             f.PolicyName,
				Path:             f.Path,
				ARN:              f.Arn,
				Description:      f.Description,
				DefaultVersionID: f.DefaultVersionId,
				CreatedAt:        f.CreateDate,
				UpdatedAt:        f.UpdateDate,
			},
			Document: doc.String(),
		}
	}
	return out
}

// awsManagedPolicyID derives a stable ANPA id from the policy name (AWS's own ids are not published).
func awsManagedPolicyID(name string) string {
	sum := sha256.Sum256([]byte("aws-managed-policy:" + name))
	b := make([]byte, idRandomLength)
	for i := range b {
		b[i] = upperAlnum[int(sum[i])%len(upperAlnum)]
	}
	return PrefixPolicy + string(b)
}

// LookupAWSManagedPolicy returns the built-in policy with this ARN.
func LookupAWSManagedPolicy(arn string) (*AWSManagedPolicy, bool) {
	p, ok := awsManaged[arn]
	return p, ok
}

// AWSManagedPolicies lists the built-in policies sorted by name.
func AWSManagedPolicies() []*AWSManagedPolicy {
	out := make([]*AWSManagedPolicy, 0, len(awsManaged))
	for _, p := range awsManaged {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Policy.Name < out[j].Policy.Name })
	return out
}

// AdministratorAccessARN is attached to every member account's OrganizationAccountAccessRole.
const AdministratorAccessARN = "arn:aws:iam::aws:policy/AdministratorAccess"
