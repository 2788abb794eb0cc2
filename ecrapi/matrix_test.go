package ecrapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/opencontainers/go-digest"

	"github.com/coffer-registry/coffer/iam"
)

// Caller kinds of the ECR API authorization matrix. The registry's tokens are SigV4 here:
// "expired" is an expired session, "tampered" a signature made with the wrong secret.
const (
	cNone     = "no credentials"
	cExpired  = "expired session"
	cTampered = "tampered signature"
	cUnknown  = "unknown access key"
	cOther    = "other account without grant"
	cNoPolicy = "same account without policy"
	cDeny     = "explicit deny"
	cAllowed  = "allowed"
)

var callerKinds = []string{cNone, cExpired, cTampered, cUnknown, cOther, cNoPolicy, cDeny, cAllowed}

// Where an operation's resource is: the matrix repository, the one DeleteRepository removes,
// the one CreateRepository makes, or "*" for the operations without a resource type.
const (
	onRepo   = "matrix/app"
	onDoomed = "matrix/doomed"
	onNew    = "matrix/new"
	onNone   = "*"
)

// ecrOperation is one ECR operation of the matrix: the repository it acts on and a valid
// minimal input (body may prepare, for the allowed caller, what the call needs).
type ecrOperation struct {
	name     string
	resource string
	body     func(m *ecrMatrix, caller string) string
}

type ecrMatrix struct {
	c        *coffer
	admin    *ecr.Client // the account's root, for preparing
	acct     string
	img      testImage
	denyText string // matrix/app's and matrix/doomed's policy: Deny user/denied ecr:*
}

// in is the JSON input naming a repository of the matrix account, plus extra members.
func (m *ecrMatrix) in(repo, extra string) string {
	s := `{"registryId":"` + m.acct + `","repositoryName":"` + repo + `"`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

func quoted(s string) string { b, _ := json.Marshal(s); return string(b) }

// upload starts a layer upload for the allowed caller (others get an id never issued: they
// are denied before it is looked up) and, with part, sends p as its one part.
func (m *ecrMatrix) upload(caller string, p []byte, part bool) string {
	if caller != cAllowed {
		return "00000000-0000-0000-0000-000000000000"
	}
	t := m.c.t
	init := must[*ecr.InitiateLayerUploadOutput](t)(m.admin.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String(onRepo)}))
	if part {
		must[*ecr.UploadLayerPartOutput](t)(m.admin.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String(onRepo),
			UploadId: init.UploadId, PartFirstByte: aws.Int64(0), PartLastByte: aws.Int64(int64(len(p) - 1)), LayerPartBlob: p}))
	}
	return aws.ToString(init.UploadId)
}

var ecrOperations = []ecrOperation{
	{"CreateRepository", onNew, func(m *ecrMatrix, _ string) string { return m.in(onNew, "") }},
	{"DescribeRepositories", onRepo, func(m *ecrMatrix, _ string) string {
		return `{"registryId":"` + m.acct + `","repositoryNames":["` + onRepo + `"]}`
	}},
	{"PutImageTagMutability", onRepo, func(m *ecrMatrix, _ string) string { return m.in(onRepo, `"imageTagMutability":"MUTABLE"`) }},
	{"PutImageScanningConfiguration", onRepo, func(m *ecrMatrix, _ string) string {
		return m.in(onRepo, `"imageScanningConfiguration":{"scanOnPush":false}`)
	}},
	{"TagResource", onRepo, func(m *ecrMatrix, _ string) string {
		return `{"resourceArn":"` + m.c.repoARN(m.acct, onRepo) + `","tags":[{"Key":"team","Value":"blue"}]}`
	}},
	{"UntagResource", onRepo, func(m *ecrMatrix, _ string) string {
		return `{"resourceArn":"` + m.c.repoARN(m.acct, onRepo) + `","tagKeys":["team"]}`
	}},
	{"ListTagsForResource", onRepo, func(m *ecrMatrix, _ string) string {
		return `{"resourceArn":"` + m.c.repoARN(m.acct, onRepo) + `"}`
	}},
	{"SetRepositoryPolicy", onRepo, func(m *ecrMatrix, _ string) string { return m.in(onRepo, `"policyText":`+quoted(m.denyText)) }},
	{"GetRepositoryPolicy", onRepo, func(m *ecrMatrix, _ string) string { return m.in(onRepo, "") }},
	{"DeleteRepositoryPolicy", onRepo, func(m *ecrMatrix, _ string) string { return m.in(onRepo, "") }},
	{"ListImages", onRepo, func(m *ecrMatrix, _ string) string { return m.in(onRepo, "") }},
	{"DescribeImages", onRepo, func(m *ecrMatrix, _ string) string { return m.in(onRepo, "") }},
	{"BatchGetImage", onRepo, func(m *ecrMatrix, _ string) string { return m.in(onRepo, `"imageIds":[{"imageTag":"v1"}]`) }},
	{"BatchDeleteImage", onRepo, func(m *ecrMatrix, _ string) string { return m.in(onRepo, `"imageIds":[{"imageTag":"absent"}]`) }},
	{"PutImage", onRepo, func(m *ecrMatrix, _ string) string {
		return m.in(onRepo, `"imageTag":"v2","imageManifest":`+quoted(m.img.manifest)+
			`,"imageManifestMediaType":"application/vnd.oci.image.manifest.v1+json"`)
	}},
	{"ListImageReferrers", onRepo, func(m *ecrMatrix, _ string) string {
		return m.in(onRepo, `"subjectId":{"imageDigest":"`+m.img.digest.String()+`"}`)
	}},
	{"BatchCheckLayerAvailability", onRepo, func(m *ecrMatrix, _ string) string {
		return m.in(onRepo, `"layerDigests":["`+digest.FromBytes(m.img.layer).String()+`"]`)
	}},
	{"GetDownloadUrlForLayer", onRepo, func(m *ecrMatrix, _ string) string {
		return m.in(onRepo, `"layerDigest":"`+digest.FromBytes(m.img.layer).String()+`"`)
	}},
	{"InitiateLayerUpload", onRepo, func(m *ecrMatrix, _ string) string { return m.in(onRepo, "") }},
	{"UploadLayerPart", onRepo, func(m *ecrMatrix, caller string) string {
		p := []byte("a part")
		return m.in(onRepo, `"uploadId":"`+m.upload(caller, nil, false)+`","partFirstByte":0,"partLastByte":`+
			strconv.Itoa(len(p)-1)+`,"layerPartBlob":"`+base64.StdEncoding.EncodeToString(p)+`"`)
	}},
	{"CompleteLayerUpload", onRepo, func(m *ecrMatrix, caller string) string {
		p := []byte("a whole layer")
		return m.in(onRepo, `"uploadId":"`+m.upload(caller, p, true)+`","layerDigests":["`+digest.FromBytes(p).String()+`"]`)
	}},
	{"DeleteRepository", onDoomed, func(m *ecrMatrix, _ string) string { return m.in(onDoomed, "") }},
	// The operations without a resource type act on the caller's own registry.
	{"GetAuthorizationToken", onNone, func(*ecrMatrix, string) string { return `{}` }},
	{"DescribeRegistry", onNone, func(*ecrMatrix, string) string { return `{}` }},
	{"PutRegistryPolicy", onNone, func(*ecrMatrix, string) string {
		return `{"policyText":` + quoted(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":"ecr:ReplicateImage","Resource":"*"}]}`) + `}`
	}},
	{"GetRegistryPolicy", onNone, func(*ecrMatrix, string) string { return `{}` }},
	{"DeleteRegistryPolicy", onNone, func(*ecrMatrix, string) string { return `{}` }},
}

// ecrCaller is how one kind of caller signs: its credentials, or no signature at all.
type ecrCaller struct {
	creds  aws.Credentials
	signed bool
}

// call sends op with body as one raw JSON 1.1 request signed for creds (unsigned when not
// signed) and returns the status and the body.
func (c *coffer) call(t *testing.T, who ecrCaller, op, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", c.url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921."+op)
	if who.signed {
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(ctx, who.creds, req, hex.EncodeToString(sum[:]), "ecr", region, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, raw
}

// TestAuthorizationMatrix calls every ECR operation as every kind of caller with raw signed
// requests over loopback, against the real IAM store, authenticator and authorizer, and checks
// the status, __type and AWS's exact sentence of each answer.
func TestAuthorizationMatrix(t *testing.T) {
	c := start(t)
	A := c.acct
	B := c.account("team-b")
	m := &ecrMatrix{c: c, admin: c.ecr(c.root), acct: A, img: newImage(t, "matrix")}
	// The deny user may do everything by its identity policy, except the operations without
	// a resource type (no repository policy can deny those) and CreateRepository (no
	// repository policy exists yet), which it denies itself.
	registryActions := `["ecr:CreateRepository","ecr:GetAuthorizationToken","ecr:DescribeRegistry","ecr:PutRegistryPolicy","ecr:GetRegistryPolicy","ecr:DeleteRegistryPolicy"]`
	callers := map[string]ecrCaller{
		cNone:     {},
		cAllowed:  {creds: c.user(A, "admin", allowDoc("ecr:*", "*", "")), signed: true},
		cNoPolicy: {creds: c.user(A, "nopolicy", ""), signed: true},
		cDeny: {creds: c.user(A, "denied", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"},
			{"Effect":"Deny","Action":`+registryActions+`,"Resource":"*"}]}`), signed: true},
		cOther:   {creds: c.user(B, "outsider", allowDoc("ecr:*", "*", "")), signed: true},
		cUnknown: {creds: aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, signed: true},
	}
	tampered := callers[cAllowed]
	tampered.creds.SecretAccessKey += "x" // the admin's key id, signed with another secret
	callers[cTampered] = tampered
	// The admin's session, issued and then ended: genuine credentials, expired.
	sess, err := c.iam.GetSessionToken(ctx, iam.SessionTokenInput{Account: A, UserName: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.iam.ExpireSession(ctx, sess.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	callers[cExpired] = ecrCaller{creds: aws.Credentials{AccessKeyID: sess.AccessKeyID, SecretAccessKey: sess.SecretAccessKey,
		SessionToken: sess.SessionToken}, signed: true}

	m.denyText = `{"Version":"2012-10-17","Statement":[{"Sid":"NoDenied","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::` + A + `:user/denied"},"Action":"ecr:*"}]}`
	for _, name := range []string{onRepo, onDoomed} {
		must[*ecr.CreateRepositoryOutput](t)(m.admin.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)}))
	}
	must[*ecr.PutImageOutput](t)(m.img.push(t, m.admin, onRepo, "v1"))

	authFailure := map[string][3]string{ // status, __type, message
		cNone:     {"403", "MissingAuthenticationTokenException", "Request is missing Authentication Token"},
		cExpired:  {"403", "ExpiredTokenException", "The security token included in the request is expired"},
		cTampered: {"403", "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."},
		cUnknown:  {"403", "UnrecognizedClientException", "The security token included in the request is invalid."},
	}
	callerARN := map[string]string{cOther: "arn:aws:iam::" + B + ":user/outsider",
		cNoPolicy: "arn:aws:iam::" + A + ":user/nopolicy", cDeny: "arn:aws:iam::" + A + ":user/denied"}

	requests := 0
	for _, op := range ecrOperations {
		// Every row starts with the deny policy in place (the allowed DeleteRepositoryPolicy
		// removes it).
		must[*ecr.SetRepositoryPolicyOutput](t)(m.admin.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{
			RepositoryName: aws.String(onRepo), PolicyText: aws.String(m.denyText)}))
		if op.name == "DeleteRepository" {
			must[*ecr.SetRepositoryPolicyOutput](t)(m.admin.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{
				RepositoryName: aws.String(onDoomed), PolicyText: aws.String(m.denyText)}))
		}
		action := "ecr:" + op.name
		if op.name == "ListImageReferrers" { // its model's documentation: it needs ecr:BatchGetImage
			action = "ecr:BatchGetImage"
		}
		resourceARN := onNone
		if op.resource != onNone {
			resourceARN = c.repoARN(A, op.resource)
		}
		for _, kind := range callerKinds {
			status, raw := c.call(t, callers[kind], op.name, op.body(m, kind))
			requests++
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			json.Unmarshal(raw, &e)
			got := strconv.Itoa(status) + " " + e.Type + " " + e.Message
			var want string
			switch {
			case authFailure[kind] != [3]string{}:
				f := authFailure[kind]
				want = f[0] + " " + f[1] + " " + f[2]
			case kind == cAllowed || (kind == cOther && op.resource == onNone):
				// Without a resource type the operation acts on the caller's own registry:
				// the other account's allowed user is simply allowed there.
				if status != http.StatusOK {
					t.Errorf("%s × %s: %s, want 200", op.name, kind, got)
				}
				continue
			default:
				want = "400 AccessDeniedException User: " + callerARN[kind] + " is not authorized to perform: " + action +
					" on resource: " + resourceARN + " "
				switch {
				case kind == cOther:
					want += "because no resource-based policy allows the " + action + " action"
				case kind == cNoPolicy:
					want += "because no identity-based policy allows the " + action + " action"
				case op.resource == onNone || op.resource == onNew:
					want += "with an explicit deny in an identity-based policy"
				default:
					want += "with an explicit deny in a resource-based policy"
				}
			}
			if got != want {
				t.Errorf("%s × %s:\n got %s\nwant %s", op.name, kind, got, want)
			}
		}
	}
	t.Logf("%d operations × %d callers = %d requests", len(ecrOperations), len(callerKinds), requests)
	// Every operation Register adds is in the matrix.
	src, err := os.ReadFile("ecrapi.go")
	if err != nil {
		t.Fatal(err)
	}
	registered := regexp.MustCompile(`awsproto\.Handle\(e, awsproto\.ECR, "(\w+)"`).FindAllStringSubmatch(string(src), -1)
	for _, r := range registered {
		if !slices.ContainsFunc(ecrOperations, func(op ecrOperation) bool { return op.name == r[1] }) {
			t.Errorf("%s is registered but not in the matrix", r[1])
		}
	}
	if len(registered) != len(ecrOperations) {
		t.Errorf("%d operations registered, %d in the matrix", len(registered), len(ecrOperations))
	}
	// The expired session failed for its expiry: a live one of the same user works.
	live := must[*iam.Session](t)(c.iam.GetSessionToken(ctx, iam.SessionTokenInput{Account: A, UserName: "admin"}))
	if status, raw := c.call(t, ecrCaller{creds: aws.Credentials{AccessKeyID: live.AccessKeyID, SecretAccessKey: live.SecretAccessKey,
		SessionToken: live.SessionToken}, signed: true}, "DescribeRegistry", `{}`); status != http.StatusOK {
		t.Errorf("live session: %d %s", status, raw)
	}
	// The allowed calls did what they say.
	must[*ecr.DescribeRepositoriesOutput](t)(m.admin.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{onNew}}))
	if _, err := m.admin.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{onDoomed}}); err == nil {
		t.Errorf("%s survived the allowed DeleteRepository", onDoomed)
	}
	out := must[*ecr.BatchGetImageOutput](t)(m.admin.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(onRepo),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v2")}}}))
	if len(out.Images) != 1 || !bytes.Equal([]byte(aws.ToString(out.Images[0].ImageManifest)), []byte(m.img.manifest)) {
		t.Errorf("v2 after the allowed PutImage: %+v", out.Images)
	}
}
