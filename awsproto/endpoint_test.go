package awsproto_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/coffer-registry/coffer/auth/sigv4"
	"github.com/coffer-registry/coffer/awsproto"
)

type keyring map[string]sigv4.Secret

func (k keyring) Lookup(_ context.Context, id string) (sigv4.Secret, error) {
	s, ok := k[id]
	if !ok {
		return sigv4.Secret{}, sigv4.ErrUnknownAccessKey
	}
	return s, nil
}

type principalKey struct{}

// TestEndpointWithSigV4 wires the real SigV4 verifier in as the authenticator: the body
// Classify read must still be what the client signed, and the verifier's errors must reach
// each client in its own protocol.
func TestEndpointWithSigV4(t *testing.T) {
	verifier := sigv4.NewVerifier(keyring{"AKIAIOSFODNN7EXAMPLE": {SecretAccessKey: "secret", Principal: "alice"}}, sigv4.Options{})
	var mu sync.Mutex
	var outcomes []awsproto.Outcome
	var principals []any
	e := awsproto.NewEndpoint(awsproto.EndpointConfig{
		Logger: slog.New(slog.DiscardHandler),
		Authenticate: func(ctx context.Context, r *http.Request, call awsproto.Call) (context.Context, error) {
			res, err := verifier.Verify(r, call.Body)
			if err != nil {
				return nil, err
			}
			if err := res.RequireService(call.Service.Name); err != nil {
				return nil, err
			}
			return context.WithValue(ctx, principalKey{}, res.Principal), nil
		},
		Observe: func(ctx context.Context, o awsproto.Outcome) {
			mu.Lock()
			defer mu.Unlock()
			outcomes = append(outcomes, o)
			principals = append(principals, ctx.Value(principalKey{}))
		},
	})
	awsproto.Handle(e, awsproto.IAM, "CreateUser", func(ctx context.Context, in *createUserInput) (*iam.CreateUserOutput, error) {
		if ctx.Value(principalKey{}) != "alice" {
			return nil, errors.New("no caller in the handler's context")
		}
		return &iam.CreateUserOutput{}, nil
	})
	awsproto.Handle(e, awsproto.STS, "GetCallerIdentity", func(ctx context.Context, in *sts.GetCallerIdentityInput) (*sts.GetCallerIdentityOutput, error) {
		return &sts.GetCallerIdentityOutput{Arn: aws.String(fmt.Sprint("arn:aws:iam::123456789012:user/", ctx.Value(principalKey{})))}, nil
	})
	awsproto.Handle(e, awsproto.ECR, "DescribeRepositories", func(ctx context.Context, in *ecr.DescribeRepositoriesInput) (*ecr.DescribeRepositoriesOutput, error) {
		return &ecr.DescribeRepositoriesOutput{}, nil
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	ctx := context.Background()
	good := sdkConfig(srv.URL)
	bad := sdkConfig(srv.URL)
	bad.Credentials = credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "wrong", "")

	if _, err := iam.NewFromConfig(good).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("signed"),
		Tags: []iamtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}); err != nil {
		t.Fatalf("signed IAM call: %v", err)
	}
	out, err := sts.NewFromConfig(good).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(out.Arn) != "arn:aws:iam::123456789012:user/alice" {
		t.Fatalf("signed STS call: %v %v", out, err)
	}
	if _, err := ecr.NewFromConfig(good).DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{}); err != nil {
		t.Fatalf("signed ECR call: %v", err)
	}

	var api smithy.APIError
	_, err = iam.NewFromConfig(bad).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("x")})
	if !errors.As(err, &api) || api.ErrorCode() != "SignatureDoesNotMatch" {
		t.Fatalf("wrong secret, IAM: %v", err)
	}
	_, err = ecr.NewFromConfig(bad).DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	if !errors.As(err, &api) || api.ErrorCode() != "InvalidSignatureException" {
		t.Fatalf("wrong secret, ECR: %v", err)
	}

	resp, body := post(t, srv.URL, "application/x-www-form-urlencoded", nil, "Action=CreateUser&Version=2010-05-08&UserName=x")
	if resp.StatusCode != 403 || !strings.Contains(body, "<Code>MissingAuthenticationToken</Code>") ||
		!strings.Contains(body, `xmlns="https://iam.amazonaws.com/doc/2010-05-08/"`) {
		t.Fatalf("unsigned IAM: %d %s", resp.StatusCode, body)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(outcomes) != 6 {
		t.Fatalf("observed %d calls", len(outcomes))
	}
	wantStatus := []int{200, 200, 200, 403, 403, 403}
	for i, o := range outcomes {
		if o.Status != wantStatus[i] || (o.Status == 200) != (o.Err == nil) || o.Call.Request.RequestID == "" || o.Duration <= 0 {
			t.Errorf("outcome %d: %+v", i, o)
		}
	}
	if principals[0] != "alice" || principals[3] != nil || outcomes[0].Call.Action() != "iam:CreateUser" ||
		outcomes[2].Call.Action() != "ecr:DescribeRepositories" {
		t.Errorf("principals %v, actions %s %s", principals, outcomes[0].Call.Action(), outcomes[2].Call.Action())
	}
}

func TestToError(t *testing.T) {
	plain := errors.New("disk on fire at /var/lib/coffer")
	if e := awsproto.ToError(plain); e.Code != "InternalFailure" || e.HTTPStatus() != 500 || e.FaultType() != awsproto.Receiver ||
		strings.Contains(e.Message, "disk") {
		t.Fatalf("unknown error: %+v", e)
	}
	mapped := awsproto.ToError(fmt.Errorf("wrapped: %w", plain), nil, func(err error) (*awsproto.Error, bool) {
		if errors.Is(err, plain) {
			return &awsproto.Error{Code: "ServiceUnavailable", Status: 503}, true
		}
		return nil, false
	})
	if mapped.Code != "ServiceUnavailable" || mapped.FaultType() != awsproto.Receiver {
		t.Fatalf("mapped: %+v", mapped)
	}
	dom := awsproto.ToError(fmt.Errorf("ctx: %w", notFound{"NoSuchEntity", "gone"}))
	if dom.Code != "NoSuchEntity" || dom.Message != "gone" || dom.HTTPStatus() != 404 || dom.FaultType() != awsproto.Sender {
		t.Fatalf("AWSErrorer: %+v", dom)
	}
	if e := awsproto.ToError(fmt.Errorf("query: %w", context.DeadlineExceeded)); e.Code != "ServiceUnavailable" || e.HTTPStatus() != 503 {
		t.Fatalf("deadline: %+v", e)
	}
	if awsproto.ToError(nil) != nil {
		t.Fatal("nil must stay nil")
	}
}

func TestToErrorSDKErrorTypes(t *testing.T) {
	cases := []struct {
		err    error
		code   string
		status int
	}{
		{&iamtypes.NoSuchEntityException{Message: aws.String("gone")}, "NoSuchEntity", 404},
		{&iamtypes.EntityAlreadyExistsException{Message: aws.String("dup")}, "EntityAlreadyExists", 409},
		{&iamtypes.ServiceFailureException{Message: aws.String("x")}, "ServiceFailure", 500},
		{&ecrtypes.RepositoryNotFoundException{Message: aws.String("nope")}, "RepositoryNotFoundException", 400},
		{&ecrtypes.ServerException{Message: aws.String("x")}, "ServerException", 500},
	}
	for _, c := range cases {
		e := awsproto.ToError(fmt.Errorf("wrapped: %w", c.err))
		if e.Code != c.code || e.HTTPStatus() != c.status {
			t.Errorf("%T: got %s %d", c.err, e.Code, e.HTTPStatus())
		}
	}
	if s := (&awsproto.Error{Code: "NoSuchEntity"}).HTTPStatus(); s != 404 {
		t.Errorf("model status of NoSuchEntity: %d", s)
	}
}
