package awsproto_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/coffer-registry/coffer/awsproto"
)

// Hand-written query inputs, the way the IAM API layer will write them.
type tag struct {
	Key   string `aws:"Key,required"`
	Value string `aws:"Value,required"`
}

type createUserInput struct {
	UserName            string `aws:"UserName,required"`
	Path                *string
	PermissionsBoundary *string
	Tags                []tag
}

type contextEntry struct {
	ContextKeyName   string
	ContextKeyType   string
	ContextKeyValues []string
}

type simulateCustomPolicyInput struct {
	PolicyInputList []string `aws:",required"`
	ActionNames     []string `aws:",required"`
	ResourceArns    []string
	ContextEntries  []contextEntry
	MaxItems        *int32
}

type getUserInput struct {
	UserName *string
}

// notFound is a domain error that knows its wire form.
type notFound struct{ code, msg string }

func (e notFound) Error() string { return e.msg }
func (e notFound) AWSError() (string, string, int) {
	status := 400
	if e.code == "NoSuchEntity" {
		status = 404
	}
	return e.code, e.msg, status
}

var created = time.Date(2026, 11, 29, 15, 4, 5, 0, time.UTC)

// recorded holds what the handlers decoded, for the test to inspect.
type recorded struct {
	createUser  createUserInput
	simulate    simulateCustomPolicyInput
	assumeRole  sts.AssumeRoleInput
	batchGet    ecr.BatchGetImageInput
	createAcct  organizations.CreateAccountInput
	requestIDs  []string
	lastCallIDs []string
}

func newTestEndpoint(t *testing.T, rec *recorded) *awsproto.Endpoint {
	t.Helper()
	e := awsproto.NewEndpoint(awsproto.EndpointConfig{Logger: slog.New(slog.DiscardHandler)})
	awsproto.Handle(e, awsproto.IAM, "CreateUser", func(ctx context.Context, in *createUserInput) (*iam.CreateUserOutput, error) {
		rec.createUser = *in
		call, _ := awsproto.CallFrom(ctx)
		rec.lastCallIDs = append(rec.lastCallIDs, call.Request.RequestID)
		tags := make([]iamtypes.Tag, len(in.Tags))
		for i, t := range in.Tags {
			tags[i] = iamtypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)}
		}
		return &iam.CreateUserOutput{User: &iamtypes.User{
			Arn: aws.String("arn:aws:iam::123456789012:user/" + in.UserName), CreateDate: aws.Time(created),
			Path: aws.String("/"), UserId: aws.String("AIDAEXAMPLE"), UserName: aws.String(in.UserName), Tags: tags,
		}}, nil
	})
	awsproto.Handle(e, awsproto.IAM, "GetUser", func(ctx context.Context, in *getUserInput) (*iam.GetUserOutput, error) {
		return nil, notFound{"NoSuchEntity", fmt.Sprintf("The user with name %s cannot be found.", aws.ToString(in.UserName))}
	})
	awsproto.Handle(e, awsproto.IAM, "DeleteUser", func(ctx context.Context, in *getUserInput) (*awsproto.NoOutput, error) {
		return nil, nil
	})
	awsproto.Handle(e, awsproto.IAM, "SimulateCustomPolicy", func(ctx context.Context, in *simulateCustomPolicyInput) (*iam.SimulateCustomPolicyOutput, error) {
		rec.simulate = *in
		return &iam.SimulateCustomPolicyOutput{EvaluationResults: []iamtypes.EvaluationResult{{
			EvalActionName: aws.String(in.ActionNames[0]), EvalResourceName: aws.String("*"),
			EvalDecision:        iamtypes.PolicyEvaluationDecisionTypeAllowed,
			EvalDecisionDetails: map[string]iamtypes.PolicyEvaluationDecisionType{"IAM Policy": iamtypes.PolicyEvaluationDecisionTypeAllowed},
			MatchedStatements: []iamtypes.Statement{{SourcePolicyId: aws.String("PolicyInputList.1"),
				SourcePolicyType: iamtypes.PolicySourceTypeUser,
				StartPosition:    &iamtypes.Position{Line: 1, Column: 37}, EndPosition: &iamtypes.Position{Line: 1, Column: 120}}},
			MissingContextValues: []string{"aws:SourceIp"},
		}}, IsTruncated: false}, nil
	})
	awsproto.Handle(e, awsproto.STS, "AssumeRole", func(ctx context.Context, in *sts.AssumeRoleInput) (*sts.AssumeRoleOutput, error) {
		rec.assumeRole = *in
		return &sts.AssumeRoleOutput{
			Credentials: &ststypes.Credentials{AccessKeyId: aws.String("ASIAEXAMPLE"), SecretAccessKey: aws.String("secret"),
				SessionToken: aws.String("token<&>"), Expiration: aws.Time(created.Add(time.Hour))},
			AssumedRoleUser: &ststypes.AssumedRoleUser{AssumedRoleId: aws.String("AROAEXAMPLE:" + aws.ToString(in.RoleSessionName)),
				Arn: aws.String("arn:aws:sts::123456789012:assumed-role/deployer/" + aws.ToString(in.RoleSessionName))},
			PackedPolicySize: aws.Int32(7),
		}, nil
	})
	awsproto.Handle(e, awsproto.STS, "GetCallerIdentity", func(ctx context.Context, in *sts.GetCallerIdentityInput) (*sts.GetCallerIdentityOutput, error) {
		return &sts.GetCallerIdentityOutput{Account: aws.String("123456789012"),
			Arn: aws.String("arn:aws:iam::123456789012:user/alice"), UserId: aws.String("AIDAEXAMPLE")}, nil
	})
	awsproto.Handle(e, awsproto.ECR, "BatchGetImage", func(ctx context.Context, in *ecr.BatchGetImageInput) (*ecr.BatchGetImageOutput, error) {
		rec.batchGet = *in
		return &ecr.BatchGetImageOutput{
			Images: []ecrtypes.Image{{RegistryId: aws.String("123456789012"), RepositoryName: in.RepositoryName,
				ImageId:                &ecrtypes.ImageIdentifier{ImageDigest: aws.String("sha256:abc"), ImageTag: aws.String("v1")},
				ImageManifest:          aws.String(`{"schemaVersion":2}`),
				ImageManifestMediaType: aws.String("application/vnd.oci.image.manifest.v1+json")}},
			Failures: []ecrtypes.ImageFailure{{FailureCode: ecrtypes.ImageFailureCodeImageTagDoesNotMatchDigest,
				FailureReason: aws.String("Requested image not found"), ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("missing")}}},
		}, nil
	})
	awsproto.Handle(e, awsproto.ECR, "DescribeRepositories", func(ctx context.Context, in *ecr.DescribeRepositoriesInput) (*ecr.DescribeRepositoriesOutput, error) {
		return &ecr.DescribeRepositoriesOutput{Repositories: []ecrtypes.Repository{{
			RepositoryName: aws.String("team/app"), RegistryId: aws.String("123456789012"),
			RepositoryArn:              aws.String("arn:aws:ecr:us-east-1:123456789012:repository/team/app"),
			RepositoryUri:              aws.String("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app"),
			CreatedAt:                  aws.Time(created.Add(250 * time.Millisecond)),
			ImageTagMutability:         ecrtypes.ImageTagMutabilityImmutable,
			ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: true},
		}}}, nil
	})
	awsproto.Handle(e, awsproto.ECR, "DeleteRepository", func(ctx context.Context, in *ecr.DeleteRepositoryInput) (*ecr.DeleteRepositoryOutput, error) {
		return nil, notFound{"RepositoryNotFoundException", fmt.Sprintf(
			"The repository with name '%s' does not exist in the registry with id '123456789012'", aws.ToString(in.RepositoryName))}
	})
	awsproto.Handle(e, awsproto.ECR, "GetAuthorizationToken", func(ctx context.Context, in *ecr.GetAuthorizationTokenInput) (*ecr.GetAuthorizationTokenOutput, error) {
		panic("boom: secret internals")
	})
	awsproto.Handle(e, awsproto.ECR, "DescribeImageScanFindings", func(ctx context.Context, in *ecr.DescribeImageScanFindingsInput) (*ecr.DescribeImageScanFindingsOutput, error) {
		return &ecr.DescribeImageScanFindingsOutput{
			RepositoryName: in.RepositoryName, ImageId: in.ImageId,
			ImageScanStatus: &ecrtypes.ImageScanStatus{Status: ecrtypes.ScanStatusComplete, Description: aws.String("done")},
			ImageScanFindings: &ecrtypes.ImageScanFindings{
				FindingSeverityCounts: map[string]int32{"HIGH": 2, "LOW": 5},
				ImageScanCompletedAt:  aws.Time(created),
				Findings: []ecrtypes.ImageScanFinding{{Name: aws.String("CVE-2099-0001"), Severity: ecrtypes.FindingSeverityHigh,
					Attributes: []ecrtypes.Attribute{{Key: aws.String("package_name"), Value: aws.String("glibc")}, {Key: aws.String("empty")}}}},
			},
			NextToken: aws.String("page-2"),
		}, nil
	})
	awsproto.Handle(e, awsproto.Organizations, "CreateAccount", func(ctx context.Context, in *organizations.CreateAccountInput) (*organizations.CreateAccountOutput, error) {
		rec.createAcct = *in
		return &organizations.CreateAccountOutput{CreateAccountStatus: &orgtypes.CreateAccountStatus{
			Id: aws.String("car-0123456789abcdef"), AccountName: in.AccountName,
			State: orgtypes.CreateAccountStateInProgress, RequestedTimestamp: aws.Time(created)}}, nil
	})
	awsproto.Handle(e, awsproto.Organizations, "DescribeAccount", func(ctx context.Context, in *organizations.DescribeAccountInput) (*organizations.DescribeAccountOutput, error) {
		return nil, notFound{"AccountNotFoundException", "You specified an account that doesn't exist."}
	})
	return e
}

func sdkConfig(url string) aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "secret", ""),
		BaseEndpoint:     aws.String(url),
		RetryMaxAttempts: 1,
	}
}

func TestSDKRoundTrips(t *testing.T) {
	rec := &recorded{}
	srv := httptest.NewServer(newTestEndpoint(t, rec))
	defer srv.Close()
	ctx := context.Background()
	cfg := sdkConfig(srv.URL)
	iamc, stsc, ecrc, orgc := iam.NewFromConfig(cfg), sts.NewFromConfig(cfg), ecr.NewFromConfig(cfg), organizations.NewFromConfig(cfg)

	t.Run("iam CreateUser with tags", func(t *testing.T) {
		out, err := iamc.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ci-bot"), Path: aws.String("/bots/"),
			Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("a&b <c>")}, {Key: aws.String("env"), Value: aws.String("")}}})
		if err != nil {
			t.Fatal(err)
		}
		in := rec.createUser
		if in.UserName != "ci-bot" || aws.ToString(in.Path) != "/bots/" || len(in.Tags) != 2 ||
			in.Tags[0] != (tag{"team", "a&b <c>"}) || in.Tags[1] != (tag{"env", ""}) {
			t.Fatalf("decoded %+v", in)
		}
		u := out.User
		if aws.ToString(u.UserName) != "ci-bot" || !aws.ToTime(u.CreateDate).Equal(created) || len(u.Tags) != 2 ||
			aws.ToString(u.Tags[0].Value) != "a&b <c>" || aws.ToString(u.Arn) != "arn:aws:iam::123456789012:user/ci-bot" {
			t.Fatalf("parsed %+v", u)
		}
		if id, ok := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata); !ok || id != rec.lastCallIDs[len(rec.lastCallIDs)-1] {
			t.Fatalf("request id %q, handler saw %v", id, rec.lastCallIDs)
		}
	})

	t.Run("iam NoSuchEntity is the typed error", func(t *testing.T) {
		_, err := iamc.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("ghost")})
		var nse *iamtypes.NoSuchEntityException
		if !errors.As(err, &nse) || nse.ErrorMessage() != "The user with name ghost cannot be found." {
			t.Fatalf("got %T %v", err, err)
		}
		var re interface{ HTTPStatusCode() int }
		if !errors.As(err, &re) || re.HTTPStatusCode() != 404 {
			t.Fatalf("status: %v", err)
		}
	})

	t.Run("iam operation without output", func(t *testing.T) {
		if _, err := iamc.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("ci-bot")}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("iam unregistered action", func(t *testing.T) {
		_, err := iamc.ListUsers(ctx, &iam.ListUsersInput{})
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "InvalidAction" ||
			api.ErrorMessage() != "The action ListUsers is not valid for this web service." {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("iam SimulateCustomPolicy with context entries", func(t *testing.T) {
		out, err := iamc.SimulateCustomPolicy(ctx, &iam.SimulateCustomPolicyInput{
			PolicyInputList: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}`},
			ActionNames:     []string{"ecr:BatchGetImage", "ecr:PutImage"},
			ContextEntries: []iamtypes.ContextEntry{
				{ContextKeyName: aws.String("aws:SourceIp"), ContextKeyType: iamtypes.ContextKeyTypeEnumIp, ContextKeyValues: []string{"10.0.0.1"}},
				{ContextKeyName: aws.String("aws:TagKeys"), ContextKeyType: iamtypes.ContextKeyTypeEnumStringList, ContextKeyValues: []string{"a", "b"}},
			},
			MaxItems: aws.Int32(50),
		})
		if err != nil {
			t.Fatal(err)
		}
		in := rec.simulate
		if len(in.PolicyInputList) != 1 || !strings.Contains(in.PolicyInputList[0], `"ecr:*"`) ||
			len(in.ActionNames) != 2 || in.ActionNames[1] != "ecr:PutImage" || aws.ToInt32(in.MaxItems) != 50 ||
			len(in.ContextEntries) != 2 || in.ContextEntries[1].ContextKeyType != "stringList" ||
			strings.Join(in.ContextEntries[1].ContextKeyValues, ",") != "a,b" || in.ContextEntries[0].ContextKeyValues[0] != "10.0.0.1" {
			t.Fatalf("decoded %+v", in)
		}
		r := out.EvaluationResults
		if len(r) != 1 || r[0].EvalDecision != iamtypes.PolicyEvaluationDecisionTypeAllowed ||
			r[0].EvalDecisionDetails["IAM Policy"] != iamtypes.PolicyEvaluationDecisionTypeAllowed ||
			len(r[0].MatchedStatements) != 1 || r[0].MatchedStatements[0].StartPosition.Column != 37 ||
			r[0].MissingContextValues[0] != "aws:SourceIp" || out.IsTruncated {
			t.Fatalf("parsed %+v", out)
		}
	})

	t.Run("sts AssumeRole with policy ARNs and tags", func(t *testing.T) {
		out, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: aws.String("arn:aws:iam::123456789012:role/deployer"), RoleSessionName: aws.String("ci"),
			PolicyArns:        []ststypes.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::aws:policy/ReadOnly")}, {Arn: aws.String("arn:aws:iam::123456789012:policy/p")}},
			Tags:              []ststypes.Tag{{Key: aws.String("project"), Value: aws.String("coffer")}},
			TransitiveTagKeys: []string{"project"},
			DurationSeconds:   aws.Int32(900),
		})
		if err != nil {
			t.Fatal(err)
		}
		in := rec.assumeRole
		if aws.ToString(in.RoleArn) != "arn:aws:iam::123456789012:role/deployer" || len(in.PolicyArns) != 2 ||
			aws.ToString(in.PolicyArns[1].Arn) != "arn:aws:iam::123456789012:policy/p" || len(in.Tags) != 1 ||
			aws.ToString(in.Tags[0].Value) != "coffer" || in.TransitiveTagKeys[0] != "project" || aws.ToInt32(in.DurationSeconds) != 900 {
			t.Fatalf("decoded %+v", in)
		}
		if aws.ToString(out.Credentials.SessionToken) != "token<&>" || !aws.ToTime(out.Credentials.Expiration).Equal(created.Add(time.Hour)) ||
			aws.ToString(out.AssumedRoleUser.Arn) != "arn:aws:sts::123456789012:assumed-role/deployer/ci" || aws.ToInt32(out.PackedPolicySize) != 7 {
			t.Fatalf("parsed %+v", out)
		}
	})

	t.Run("sts GetCallerIdentity", func(t *testing.T) {
		out, err := stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil || aws.ToString(out.Account) != "123456789012" || aws.ToString(out.UserId) != "AIDAEXAMPLE" {
			t.Fatalf("%+v %v", out, err)
		}
	})

	t.Run("ecr BatchGetImage", func(t *testing.T) {
		out, err := ecrc.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("team/app"),
			ImageIds:           []ecrtypes.ImageIdentifier{{ImageTag: aws.String("v1")}, {ImageDigest: aws.String("sha256:abc")}},
			AcceptedMediaTypes: []string{"application/vnd.oci.image.manifest.v1+json"}})
		if err != nil {
			t.Fatal(err)
		}
		in := rec.batchGet
		if aws.ToString(in.RepositoryName) != "team/app" || len(in.ImageIds) != 2 || aws.ToString(in.ImageIds[1].ImageDigest) != "sha256:abc" ||
			in.AcceptedMediaTypes[0] != "application/vnd.oci.image.manifest.v1+json" {
			t.Fatalf("decoded %+v", in)
		}
		if len(out.Images) != 1 || aws.ToString(out.Images[0].ImageManifest) != `{"schemaVersion":2}` ||
			aws.ToString(out.Images[0].ImageId.ImageTag) != "v1" || len(out.Failures) != 1 ||
			out.Failures[0].FailureCode != ecrtypes.ImageFailureCodeImageTagDoesNotMatchDigest {
			t.Fatalf("parsed %+v", out)
		}
	})

	t.Run("ecr DescribeRepositories timestamps", func(t *testing.T) {
		out, err := ecrc.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
		if err != nil {
			t.Fatal(err)
		}
		r := out.Repositories
		if len(r) != 1 || !aws.ToTime(r[0].CreatedAt).Equal(created.Add(250*time.Millisecond)) ||
			r[0].ImageTagMutability != ecrtypes.ImageTagMutabilityImmutable || !r[0].ImageScanningConfiguration.ScanOnPush ||
			aws.ToString(r[0].RepositoryUri) != "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app" {
			t.Fatalf("parsed %+v", r)
		}
	})

	t.Run("ecr DescribeImageScanFindings maps and nested lists", func(t *testing.T) {
		out, err := ecrc.DescribeImageScanFindings(ctx, &ecr.DescribeImageScanFindingsInput{RepositoryName: aws.String("team/app"),
			ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}})
		if err != nil {
			t.Fatal(err)
		}
		f := out.ImageScanFindings
		if f.FindingSeverityCounts["HIGH"] != 2 || f.FindingSeverityCounts["LOW"] != 5 || len(f.Findings) != 1 ||
			f.Findings[0].Severity != ecrtypes.FindingSeverityHigh || len(f.Findings[0].Attributes) != 2 ||
			aws.ToString(f.Findings[0].Attributes[0].Value) != "glibc" || f.Findings[0].Attributes[1].Value != nil ||
			!aws.ToTime(f.ImageScanCompletedAt).Equal(created) || out.ImageScanStatus.Status != ecrtypes.ScanStatusComplete ||
			aws.ToString(out.NextToken) != "page-2" || aws.ToString(out.ImageId.ImageTag) != "v1" {
			t.Fatalf("parsed %+v / %+v", out, f)
		}
	})

	t.Run("ecr RepositoryNotFoundException is the typed error", func(t *testing.T) {
		_, err := ecrc.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("nope")})
		var rnf *ecrtypes.RepositoryNotFoundException
		if !errors.As(err, &rnf) || !strings.Contains(rnf.ErrorMessage(), "'nope' does not exist") {
			t.Fatalf("got %T %v", err, err)
		}
	})

	t.Run("ecr handler panic is InternalFailure without internals", func(t *testing.T) {
		_, err := ecrc.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "InternalFailure" || strings.Contains(err.Error(), "boom") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("ecr unregistered operation", func(t *testing.T) {
		_, err := ecrc.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("x")})
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "UnknownOperationException" {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("organizations CreateAccount", func(t *testing.T) {
		out, err := orgc.CreateAccount(ctx, &organizations.CreateAccountInput{Email: aws.String("dev@example.com"),
			AccountName: aws.String("dev"), Tags: []orgtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
		if err != nil {
			t.Fatal(err)
		}
		in := rec.createAcct
		if aws.ToString(in.Email) != "dev@example.com" || aws.ToString(in.AccountName) != "dev" || len(in.Tags) != 1 || aws.ToString(in.Tags[0].Value) != "v" {
			t.Fatalf("decoded %+v", in)
		}
		s := out.CreateAccountStatus
		if aws.ToString(s.Id) != "car-0123456789abcdef" || s.State != orgtypes.CreateAccountStateInProgress ||
			!aws.ToTime(s.RequestedTimestamp).Equal(created) || aws.ToString(s.AccountName) != "dev" {
			t.Fatalf("parsed %+v", s)
		}
	})

	t.Run("organizations typed error", func(t *testing.T) {
		_, err := orgc.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String("111122223333")})
		var anf *orgtypes.AccountNotFoundException
		if !errors.As(err, &anf) || anf.ErrorMessage() != "You specified an account that doesn't exist." {
			t.Fatalf("got %T %v", err, err)
		}
	})
}

func TestUnsignedRequestsGetMissingAuthenticationTokenInTheirFormat(t *testing.T) {
	e := awsproto.NewEndpoint(awsproto.EndpointConfig{
		Authenticate: func(ctx context.Context, r *http.Request, call awsproto.Call) (context.Context, error) {
			if r.Header.Get("Authorization") == "" {
				return nil, awsproto.MissingAuthenticationToken()
			}
			return ctx, nil
		},
	})
	awsproto.Handle(e, awsproto.STS, "GetCallerIdentity", func(ctx context.Context, in *struct{}) (*awsproto.NoOutput, error) { return nil, nil })
	srv := httptest.NewServer(e)
	defer srv.Close()

	// STS by its action name: XML with STS's namespace.
	resp, body := post(t, srv.URL, "application/x-www-form-urlencoded", nil, "Action=GetCallerIdentity")
	if resp.StatusCode != 403 || !strings.Contains(body, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">`) ||
		!strings.Contains(body, "<Code>MissingAuthenticationToken</Code>") || !strings.Contains(body, "<Type>Sender</Type>") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// ECR: JSON with the JSON-protocol name.
	resp, body = post(t, srv.URL, "application/x-amz-json-1.1",
		map[string]string{"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"}, "{}")
	if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-Errortype") != "MissingAuthenticationTokenException" ||
		!strings.Contains(body, `"__type":"MissingAuthenticationTokenException"`) {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
	}
}

func post(t *testing.T, url, contentType string, headers map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	if _, err := io.Copy(&sb, resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp, sb.String()
}
