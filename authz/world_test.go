package authz_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	cofferiam "github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
	"github.com/coffer-registry/coffer/internal/iamtest"
	"github.com/coffer-registry/coffer/policy"
)

const region = "eu-west-1"

// countingStore is the real IAM store with its policy reads counted.
type countingStore struct {
	*iamsql.Service
	policyReads atomic.Int64
}

func (s *countingStore) PoliciesFor(ctx context.Context, p *cofferiam.Principal) (*cofferiam.PolicySet, error) {
	s.policyReads.Add(1)
	return s.Service.PoliciesFor(ctx, p)
}

// world is a real IAM store, the real SigV4 authenticator and the authorizer under test
// behind a real awsproto endpoint on loopback, with two test operations that ask the
// authorizer what IAM's CreateUser and ECR's BatchGetImage would ask.
type world struct {
	t       testing.TB
	store   *countingStore
	authz   *authz.PolicyAuthorizer
	srv     *httptest.Server
	acct    string
	rootKey *cofferiam.NewAccessKey

	mu        sync.Mutex
	repoPols  map[string]*policy.Policy // "account/name" → repository policy
	decisions []authz.Result
}

func newWorld(t testing.TB) *world {
	t.Helper()
	s, res := iamtest.Open(t, nil, iamsql.BootstrapInput{})
	w := &world{t: t, store: &countingStore{Service: s}, acct: res.Account.ID, rootKey: res.RootKey,
		repoPols: map[string]*policy.Policy{}}
	w.authz = authz.New(authz.Config{Identities: w.store, Region: region,
		OnDecision: func(_ context.Context, _ authz.Check, r authz.Result) {
			w.mu.Lock()
			w.decisions = append(w.decisions, r)
			w.mu.Unlock()
		}})
	authn := auth.NewAPIAuthenticator(auth.APIConfig{Store: s, Regions: []string{region, "us-east-1"}})
	t.Cleanup(func() { authn.Close() })

	e := awsproto.NewEndpoint(awsproto.EndpointConfig{Authenticate: authn.Authenticate})
	awsproto.Handle(e, awsproto.IAM, "CreateUser", func(ctx context.Context, in *struct {
		UserName string `aws:"UserName,required"`
	}) (*createUserOutput, error) {
		acct := auth.CallerFrom(ctx).Principal.AccountID
		arn := cofferiam.UserARN(acct, "/", in.UserName)
		if err := w.authz.Authorize(ctx, authz.Check{Action: "iam:CreateUser", Resource: arn}); err != nil {
			return nil, err
		}
		out := &createUserOutput{}
		out.User.UserName, out.User.Arn = in.UserName, arn
		return out, nil
	})
	awsproto.Handle(e, awsproto.ECR, "BatchGetImage", func(ctx context.Context, in *ecr.BatchGetImageInput) (*ecr.BatchGetImageOutput, error) {
		acct := auth.CallerFrom(ctx).Principal.AccountID
		if in.RegistryId != nil {
			acct = *in.RegistryId
		}
		w.mu.Lock()
		pol := w.repoPols[acct+"/"+*in.RepositoryName]
		w.mu.Unlock()
		err := w.authz.Authorize(ctx, authz.Check{Action: "ecr:BatchGetImage", ResourceAccount: acct, ResourcePolicy: pol,
			Resource: repoARN(acct, *in.RepositoryName)})
		if err != nil {
			return nil, err
		}
		return &ecr.BatchGetImageOutput{}, nil
	})
	w.srv = httptest.NewServer(e)
	t.Cleanup(w.srv.Close)
	return w
}

func repoARN(acct, name string) string {
	return fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", region, acct, name)
}

type createUserOutput struct {
	User struct{ UserName, Arn string }
}

// creds are the credentials of one caller.
type creds struct{ id, secret, token string }

func (w *world) root() creds { return creds{w.rootKey.ID, w.rootKey.Secret, ""} }

func (w *world) config(c creds, signingRegion string) aws.Config {
	return aws.Config{Region: signingRegion, BaseEndpoint: aws.String(w.srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(c.id, c.secret, c.token)}
}

// createUser asks for iam:CreateUser on user/name through the IAM SDK.
func (w *world) createUser(c creds, name string) error {
	_, err := iam.NewFromConfig(w.config(c, "us-east-1")).CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String(name)})
	return err
}

// pull asks for ecr:BatchGetImage on a repository through the ECR SDK.
func (w *world) pull(c creds, registry, repo string) error {
	in := &ecr.BatchGetImageInput{RepositoryName: aws.String(repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("latest")}}}
	if registry != "" {
		in.RegistryId = aws.String(registry)
	}
	_, err := ecr.NewFromConfig(w.config(c, region)).BatchGetImage(context.Background(), in)
	return err
}

func (w *world) setRepositoryPolicy(acct, repo, doc string) {
	w.t.Helper()
	p, err := policy.Parse([]byte(doc), policy.KindRepository)
	if err != nil {
		w.t.Fatal(err)
	}
	w.mu.Lock()
	w.repoPols[acct+"/"+repo] = p
	w.mu.Unlock()
}

func (w *world) lastDecision() authz.Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.decisions[len(w.decisions)-1]
}

// user creates an IAM user of acct with an access key and the given inline policies.
func (w *world) user(acct, name string, tags []cofferiam.Tag, inline ...string) creds {
	w.t.Helper()
	ctx := context.Background()
	if _, err := w.store.CreateUser(ctx, iamsql.CreateUserInput{Account: acct, Name: name, Tags: tags}); err != nil {
		w.t.Fatal(err)
	}
	for i, doc := range inline {
		w.must(w.store.PutInlinePolicy(ctx, cofferiam.EntityRef{Account: acct, Kind: cofferiam.KindUser, Name: name}, fmt.Sprint("p", i), doc))
	}
	key, err := w.store.CreateAccessKey(ctx, acct, name)
	if err != nil {
		w.t.Fatal(err)
	}
	return creds{key.ID, key.Secret, ""}
}

func (w *world) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

func allow(action, resource string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":%q,"Resource":%q}]}`, action, resource)
}

func deny(action, resource string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":%q,"Resource":%q}]}`, action, resource)
}

func wantAllowed(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("want allowed, got %v", err)
	}
}

// wantDenied checks the code, the HTTP status and AWS's exact sentence.
func wantDenied(t *testing.T, err error, code string, status int, message string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s, got %v", code, err)
	}
	var re *smithyhttp.ResponseError
	if ae.ErrorCode() != code || !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Fatalf("want %s (%d), got %v", code, status, err)
	}
	if message != "" && ae.ErrorMessage() != message {
		t.Fatalf("message\n got: %s\nwant: %s", ae.ErrorMessage(), message)
	}
}

func wantIAMDenied(t *testing.T, err error, message string) {
	t.Helper()
	wantDenied(t, err, "AccessDenied", 403, message)
}

func wantECRDenied(t *testing.T, err error, message string) {
	t.Helper()
	wantDenied(t, err, "AccessDeniedException", 400, message)
}
