package sigv4_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/coffer-registry/coffer/auth/sigv4"
	"github.com/coffer-registry/coffer/internal/awstest"
)

// The interop tests drive real AWS clients (Go SDK, aws CLI, boto3) against a
// loopback server that verifies with the real clock and answers just enough
// of STS, ECR and IAM for the clients to parse the reply. Errors are written
// the way the API layer will: XML for query APIs, JSON "__type" for ECR.

func realClockServer(t *testing.T) *verifyServer {
	v := sigv4.NewVerifier(testKeyring(time.Now()), sigv4.Options{Regions: []string{"us-east-1", "eu-west-1"}})
	return newVerifyServer(t, v, answerAWS)
}

func answerAWS(w http.ResponseWriter, r *http.Request, o outcome) {
	jsonAPI := r.Header.Get("X-Amz-Target") != ""
	if o.err != nil {
		var e *sigv4.Error
		if !errors.As(o.err, &e) {
			http.Error(w, o.err.Error(), http.StatusInternalServerError)
			return
		}
		if jsonAPI {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(e.HTTPStatus())
			json.NewEncoder(w).Encode(map[string]string{"__type": e.JSONCode(), "message": e.Message()})
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(e.HTTPStatus())
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error>`+
			`<RequestId>test</RequestId></ErrorResponse>`, e.Code(), xmlEscape(e.Message()))
		return
	}
	switch o.res.Service {
	case "ecr":
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprint(w, `{"repositories":[]}`)
	case "sts":
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">`+
			`<GetCallerIdentityResult><Arn>%s</Arn><UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account>`+
			`</GetCallerIdentityResult><ResponseMetadata><RequestId>test</RequestId></ResponseMetadata>`+
			`</GetCallerIdentityResponse>`, xmlEscape(fmt.Sprint(o.res.Principal)))
	case "iam":
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, `<ListUsersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListUsersResult>`+
			`<Users/><IsTruncated>false</IsTruncated></ListUsersResult>`+
			`<ResponseMetadata><RequestId>test</RequestId></ResponseMetadata></ListUsersResponse>`)
	default:
		http.Error(w, "unknown service "+o.res.Service, http.StatusBadRequest)
	}
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func sdkConfig(creds aws.Credentials) aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken),
		RetryMaxAttempts: 1,
	}
}

func TestGoSDKSTSGetCallerIdentity(t *testing.T) {
	srv := realClockServer(t)
	ctx := context.Background()
	for _, tc := range []struct {
		creds   aws.Credentials
		wantARN string
	}{{userCreds, userARN}, {sessionCreds, sessionARN}} {
		client := sts.NewFromConfig(sdkConfig(tc.creds), func(o *sts.Options) { o.BaseEndpoint = aws.String(srv.URL) })
		out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		o := srv.last(t)
		if o.err != nil || o.res.Service != "sts" || aws.ToString(out.Arn) != tc.wantARN {
			t.Fatalf("server %+v %v, client arn %q", o.res, o.err, aws.ToString(out.Arn))
		}
	}

	bad := sts.NewFromConfig(sdkConfig(aws.Credentials{AccessKeyID: userKeyID, SecretAccessKey: "wrong"}),
		func(o *sts.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	_, err := bad.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "SignatureDoesNotMatch" {
		t.Fatalf("want SignatureDoesNotMatch, got %v", err)
	}
}

func TestGoSDKSTSPresignedGetCallerIdentity(t *testing.T) {
	srv := realClockServer(t)
	client := sts.NewFromConfig(sdkConfig(sessionCreds), func(o *sts.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	p, err := sts.NewPresignClient(client).PresignGetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	r := newRequest(t, p.Method, p.URL, nil, nil)
	for k, vs := range p.SignedHeader {
		if !strings.EqualFold(k, "host") {
			r.Header[k] = vs
		}
	}
	o := srv.send(t, r)
	if o.err != nil || !o.res.Presigned || o.res.Principal != sessionARN {
		t.Fatalf("%+v %v", o.res, o.err)
	}
}

func TestGoSDKECR(t *testing.T) {
	srv := realClockServer(t)
	ctx := context.Background()
	for _, creds := range []aws.Credentials{userCreds, sessionCreds} {
		client := ecr.NewFromConfig(sdkConfig(creds), func(o *ecr.Options) { o.BaseEndpoint = aws.String(srv.URL) })
		if _, err := client.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{}); err != nil {
			t.Fatal(err)
		}
		o := srv.last(t)
		if o.err != nil || o.res.RequireService("ecr") != nil || o.res.Region != "us-east-1" {
			t.Fatalf("%+v %v", o.res, o.err)
		}
	}
	unknown := ecr.NewFromConfig(sdkConfig(aws.Credentials{AccessKeyID: "AKIANOSUCHKEYEXAMPLE", SecretAccessKey: "x"}),
		func(o *ecr.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	_, err := unknown.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnrecognizedClientException" ||
		apiErr.ErrorMessage() != msgInvalidToken {
		t.Fatalf("want UnrecognizedClientException, got %v", err)
	}
}

func TestAWSCLI(t *testing.T) {
	cli := awstest.NeedTool(t, "aws")
	srv := realClockServer(t)
	run := func(creds aws.Credentials, args ...string) (string, error) {
		cmd := exec.Command(cli, append(args, "--endpoint-url", srv.URL, "--output", "json")...)
		cmd.Env = awstest.Env(t, creds, "us-east-1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, tc := range []struct {
		creds   aws.Credentials
		args    []string
		service string
	}{
		{userCreds, []string{"sts", "get-caller-identity"}, "sts"},
		{sessionCreds, []string{"sts", "get-caller-identity"}, "sts"},
		{userCreds, []string{"ecr", "describe-repositories"}, "ecr"},
		{userCreds, []string{"iam", "list-users"}, "iam"},
	} {
		out, err := run(tc.creds, tc.args...)
		if err != nil {
			t.Fatalf("aws %v: %v\n%s", tc.args, err, out)
		}
		o := srv.last(t)
		if o.err != nil || o.res.Service != tc.service || o.res.AccessKeyID != tc.creds.AccessKeyID {
			t.Fatalf("aws %v: server %+v %v", tc.args, o.res, o.err)
		}
		if tc.service == "sts" && !strings.Contains(out, fmt.Sprint(o.res.Principal)) {
			t.Fatalf("aws %v printed %s", tc.args, out)
		}
	}
	out, err := run(aws.Credentials{AccessKeyID: userKeyID, SecretAccessKey: "wrong"}, "sts", "get-caller-identity")
	if err == nil || !strings.Contains(out, "SignatureDoesNotMatch") {
		t.Fatalf("wrong secret: %v\n%s", err, out)
	}
}

const boto3Script = `
import json, os, sys
import boto3, botocore.exceptions
url = sys.argv[1]
out = {}
s = boto3.session.Session(region_name="us-east-1")
out["arn"] = s.client("sts", endpoint_url=url).get_caller_identity()["Arn"]
out["repositories"] = s.client("ecr", endpoint_url=url).describe_repositories()["repositories"]
out["presigned"] = s.client("sts", endpoint_url=url).generate_presigned_url("get_caller_identity", ExpiresIn=120, HttpMethod="GET")
bad = boto3.session.Session(aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key="wrong",
    aws_session_token=os.environ.get("AWS_SESSION_TOKEN"), region_name="us-east-1")
try:
    bad.client("ecr", endpoint_url=url).describe_repositories()
except botocore.exceptions.ClientError as e:
    out["bad"] = e.response["Error"]["Code"]
print(json.dumps(out))
`

func TestBoto3(t *testing.T) {
	python := awstest.NeedBoto3(t)
	srv := realClockServer(t)
	for _, tc := range []struct {
		creds   aws.Credentials
		wantARN string
	}{{userCreds, userARN}, {sessionCreds, sessionARN}} {
		cmd := exec.Command(python, "-c", boto3Script, srv.URL)
		cmd.Env = awstest.Env(t, tc.creds, "us-east-1")
		raw, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("boto3: %v\n%s", err, ee.Stderr)
			}
			t.Fatal(err)
		}
		var out struct {
			ARN       string `json:"arn"`
			Presigned string `json:"presigned"`
			Bad       string `json:"bad"`
		}
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		if out.ARN != tc.wantARN || out.Bad != "InvalidSignatureException" {
			t.Fatalf("boto3 said %s", raw)
		}
		var verified int
		for _, o := range srv.all() {
			if o.err == nil && o.res.AccessKeyID == tc.creds.AccessKeyID {
				verified++
			}
		}
		if verified < 2 {
			t.Fatalf("server verified %d boto3 requests", verified)
		}
		// botocore's presigned URL verifies too.
		o := srv.send(t, newRequest(t, "GET", out.Presigned, nil, nil))
		if o.err != nil || !o.res.Presigned || o.res.Principal != tc.wantARN {
			t.Fatalf("boto3 presigned URL %s: %+v %v", out.Presigned, o.res, o.err)
		}
	}
}
