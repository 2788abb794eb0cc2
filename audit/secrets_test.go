package audit_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/coffer-registry/coffer/audit"
	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	iamtypes "github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
	"github.com/coffer-registry/coffer/iamapi"
	"github.com/coffer-registry/coffer/stsapi"
)

// TestAPITrailHoldsNoSecrets drives the real IAM and STS endpoints with the Go SDK through
// calls whose requests or answers carry secrets, then reads the trail's raw bytes.
func TestAPITrailHoldsNoSecrets(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := iamsql.Open(ctx, iamsql.Config{DBPath: filepath.Join(dir, "iam.db"), KeyPath: filepath.Join(dir, "iam.key"),
		ValidatePolicy: iamtypes.ValidatePolicyDocument})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	boot, err := store.Bootstrap(ctx, iamsql.BootstrapInput{})
	if err != nil {
		t.Fatal(err)
	}
	trail := filepath.Join(dir, "audit")
	w, err := audit.Open(audit.Config{Dir: trail})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	authn := auth.NewAPIAuthenticator(auth.APIConfig{Store: store})
	defer authn.Close()
	az := authz.New(authz.Config{Identities: store, Region: "us-east-1"})
	e := awsproto.NewEndpoint(awsproto.EndpointConfig{Authenticate: authn.Authenticate, Observe: w.ObserveAPI("us-east-1")})
	iamapi.Register(e, iamapi.Deps{Store: store, Authorizer: az})
	stsapi.Register(e, stsapi.Deps{Identities: store, Authorizer: az})
	srv := httptest.NewServer(e)
	defer srv.Close()

	cfg := func(id, secret, token string) aws.Config {
		return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(id, secret, token)}
	}
	root := cfg(boot.RootKey.ID, boot.RootKey.Secret, "")
	ic := iam.NewFromConfig(root)
	if _, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	key, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	alice := cfg(*key.AccessKey.AccessKeyId, *key.AccessKey.SecretAccessKey, "")
	// alice has no policy: denied, and recorded as such.
	_, err = iam.NewFromConfig(alice).ListUsers(ctx, &iam.ListUsersInput{})
	if err == nil {
		t.Fatal("a user without policies listed users")
	}
	if _, err := ic.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("sts"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetSessionToken","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	sess, err := sts.NewFromConfig(alice).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg(*sess.Credentials.AccessKeyId, *sess.Credentials.SecretAccessKey, *sess.Credentials.SessionToken)
	if _, err := sts.NewFromConfig(sc).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	// A wrong secret: the signature must not be recorded either.
	bad := cfg(*key.AccessKey.AccessKeyId, strings.Repeat("x", 40), "")
	if _, err := sts.NewFromConfig(bad).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil {
		t.Fatal("a wrong secret was accepted")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}

	raw := trailBytes(t, trail)
	for name, secret := range map[string]string{
		"root secret": boot.RootKey.Secret, "alice's secret": *key.AccessKey.SecretAccessKey,
		"session secret": *sess.Credentials.SecretAccessKey, "session token": *sess.Credentials.SessionToken,
		"signature header": "Signature=", "authorization header": "AWS4-HMAC-SHA256",
	} {
		if strings.Contains(raw, secret) {
			t.Errorf("the trail contains the %s", name)
		}
	}

	events := readAll(t, trail, audit.Filter{})
	byName := map[string][]*audit.Event{}
	for _, e := range events {
		byName[e.EventName] = append(byName[e.EventName], e)
	}
	if len(events) != 7 {
		t.Errorf("%d events for 7 calls", len(events))
	}
	lu := byName["ListUsers"]
	if len(lu) != 1 || lu[0].AdditionalEventData.Decision != audit.Deny || lu[0].ErrorCode != "AccessDenied" ||
		!strings.Contains(lu[0].ErrorMessage, "user/alice is not authorized to perform: iam:ListUsers") ||
		lu[0].UserIdentity.Type != "IAMUser" || lu[0].UserIdentity.UserName != "alice" || lu[0].EventSource != "iam.amazonaws.com" {
		t.Errorf("ListUsers event: %s", mustJSON(lu))
	}
	cu := byName["CreateUser"]
	if len(cu) != 1 || cu[0].RequestParameters["UserName"] != "alice" || cu[0].UserIdentity.Type != "Root" ||
		cu[0].ReadOnly || cu[0].AdditionalEventData.Decision != audit.Allow || cu[0].ResponseElements != nil ||
		cu[0].RecipientAccountID != boot.Account.ID || cu[0].SourceIPAddress != "127.0.0.1" || cu[0].RequestID == "" {
		t.Errorf("CreateUser event: %s", mustJSON(cu))
	}
	gci := byName["GetCallerIdentity"]
	if len(gci) != 2 || gci[0].UserIdentity.SessionContext == nil || !gci[0].ReadOnly ||
		gci[1].AdditionalEventData.Decision != audit.Deny || gci[1].ErrorCode != "SignatureDoesNotMatch" {
		t.Errorf("GetCallerIdentity events: %s", mustJSON(gci))
	}
}

func TestParameterRedaction(t *testing.T) {
	blob := strings.Repeat("QUJD", 100)
	p := audit.JSONParameters([]byte(`{"registryId":"111122223333","repositoryName":"app","uploadId":"u1",
		"partFirstByte":0,"layerPartBlob":"` + blob + `","authorizationToken":"QVdTOnNlY3JldA==",
		"policyText":"{\"Version\":\"2012-10-17\"}","nextToken":"page2",
		"nested":{"SecretAccessKey":"abc","items":[{"password":"pw","name":"n"}]}}`))
	s := mustJSON(p)
	for _, leak := range []string{blob, "QVdTOnNlY3JldA==", `"abc"`, `"pw"`} {
		if strings.Contains(s, leak) {
			t.Errorf("JSON parameters keep %q: %s", leak, s)
		}
	}
	if p["repositoryName"] != "app" || p["policyText"] != `{"Version":"2012-10-17"}` || p["nextToken"] != "page2" ||
		p["layerPartBlob"] != "<omitted: 400 bytes>" || p["authorizationToken"] != audit.Hidden {
		t.Errorf("JSON parameters: %s", s)
	}
	q := audit.QueryParameters(map[string][]string{"Action": {"EnableMFADevice"}, "Version": {"2010-05-08"},
		"UserName": {"alice"}, "AuthenticationCode1": {"123456"}, "AuthenticationCode2": {"654321"},
		"TokenCode": {"111111"}, "Password": {"hunter2"}, "NewPassword": {"hunter3"}, "X-Amz-Signature": {"sig"},
		"X-Amz-Security-Token": {"tok"}, "Tags.member.1.Value": {"v"}})
	s = mustJSON(q)
	for _, leak := range []string{"123456", "654321", "111111", "hunter", "sig", "tok", "EnableMFADevice"} {
		if strings.Contains(s, leak) {
			t.Errorf("query parameters keep %q: %s", leak, s)
		}
	}
	if q["UserName"] != "alice" || q["Tags.member.1.Value"] != "v" {
		t.Errorf("query parameters: %s", s)
	}
}

func trailBytes(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	var b strings.Builder
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(raw)
	}
	if b.Len() == 0 {
		t.Fatal("empty trail")
	}
	return b.String()
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
