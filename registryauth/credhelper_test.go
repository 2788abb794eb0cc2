package registryauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/coffer-registry/coffer/audit"
	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/ecrapi"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/registry"
	"github.com/coffer-registry/coffer/registryauth"
)

// credHelperVersion is the docker-credential-ecr-login this test runs:
//
//	GOBIN=$PWD/.tools/bin go install github.com/awslabs/amazon-ecr-credential-helper/ecr-login/cli/docker-credential-ecr-login@v0.12.0
const credHelperVersion = "v0.12.0"

// TestECRCredentialHelper: docker-credential-ecr-login, given the ECR-style name of the
// registry, calls GetAuthorizationToken on Coffer's ECR API (AWS_ENDPOINT_URL_ECR) with an
// IAM user's keys, and the token it returns pushes and pulls through that name.
func TestECRCredentialHelper(t *testing.T) {
	helper := credHelperBinary(t)
	w := newWorld(t, false)
	A := w.acctA
	w.repo(A, "ecr/app")
	ctx := context.Background()
	if _, err := w.iam.CreateUser(ctx, iamCreateUser(A, "ci")); err != nil {
		t.Fatal(err)
	}
	if err := w.iam.PutInlinePolicy(ctx, iam.EntityRef{Account: A, Kind: iam.KindUser, Name: "ci"}, "ecr", allow("ecr:*")); err != nil {
		t.Fatal(err)
	}
	key, err := w.iam.CreateAccessKey(ctx, A, "ci")
	if err != nil {
		t.Fatal(err)
	}

	// One listener for the ECR API and the registry, as coffer serve has.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ecrName := A + ".dkr.ecr." + region + ".amazonaws.com:" + port
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	az := authz.New(authz.Config{Identities: w.iam, Region: region})
	apiAuth := auth.NewAPIAuthenticator(auth.APIConfig{Store: w.iam, Logger: quiet})
	defer apiAuth.Close()
	reg := registry.New(w.hooks.Config(registry.Config{Blobs: w.blobs, Store: w.meta, Region: region, Logger: quiet}))
	regHandler := registryauth.ECRHost(w.trail.Registry(audit.RegistryConfig{Region: region, Describe: registryauth.Describe(reg)}, reg))
	e := awsproto.NewEndpoint(awsproto.EndpointConfig{Authenticate: apiAuth.Authenticate, NotFound: regHandler,
		Observe: w.trail.ObserveAPI(region), Logger: quiet})
	// With ECR's host names, proxyEndpoint is https://ACCOUNT.dkr.ecr.REGION.amazonaws.com (no
	// port; the helper refuses any other form) and repositoryUri names that host with the port.
	ecrapi.Register(e, ecrapi.Deps{Store: w.meta, Blobs: w.blobs, Authorizer: az, Tokens: w.tokens, Region: region,
		RegistryHost: ln.Addr().String(), RegistryScheme: "http", ECRHostNames: true, Logger: quiet})
	srv := httptest.NewUnstartedServer(e)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	home := t.TempDir()
	cmd := exec.Command(helper, "get")
	cmd.Stdin = strings.NewReader(ecrName)
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"),
		"AWS_ENDPOINT_URL_ECR=" + srv.URL, "AWS_ACCESS_KEY_ID=" + key.ID, "AWS_SECRET_ACCESS_KEY=" + key.Secret,
		"AWS_REGION=" + region, "AWS_ECR_DISABLE_CACHE=true", "AWS_EC2_METADATA_DISABLED=true"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		log, _ := os.ReadFile(filepath.Join(home, ".ecr", "log", "ecr-login.log"))
		t.Fatalf("docker-credential-ecr-login get: %v\nstdout %s\nstderr %s\nlog %s", err, stdout.String(), stderr.String(), log)
	}
	var creds struct{ ServerURL, Username, Secret string }
	if err := json.Unmarshal(stdout.Bytes(), &creds); err != nil {
		t.Fatalf("helper answer %q: %v", stdout.String(), err)
	}
	if creds.Username != "AWS" || creds.Secret == "" {
		t.Fatalf("helper answer %+v", creds)
	}

	// The ECR API names the repository by the ECR host, as ECR does.
	ecrClient := ecr.NewFromConfig(aws.Config{Region: region, BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret}}})
	repos, err := ecrClient.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"ecr/app"}})
	if err != nil {
		t.Fatal(err)
	}
	if uri := aws.ToString(repos.Repositories[0].RepositoryUri); uri != ecrName+"/ecr/app" {
		t.Fatalf("repositoryUri %s, want %s/ecr/app", uri, ecrName)
	}

	// Push and pull by the ECR name with what the helper gave, the name resolved to the
	// listener by the client's own dialer.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if strings.HasSuffix(strings.ToLower(addr), ".amazonaws.com:"+port) {
			addr = ln.Addr().String()
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	opts := []remote.Option{remote.WithTransport(transport),
		remote.WithAuth(&authn.Basic{Username: creds.Username, Password: creds.Secret})}
	ref, err := name.ParseReference(ecrName+"/ecr/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(300, 1)
	if err := remote.Write(ref, img, opts...); err != nil {
		t.Fatalf("push with the helper's token: %v", err)
	}
	if _, err := remote.Image(ref, opts...); err != nil {
		t.Fatalf("pull with the helper's token: %v", err)
	}
	// The trail has the token call and the pushes, attributed to the user, and no token.
	events := w.events(audit.Filter{Principal: "arn:aws:iam::" + A + ":user/ci"})
	names := map[string]int{}
	for _, e := range events {
		names[e.EventName]++
		raw, _ := json.Marshal(e)
		if strings.Contains(string(raw), creds.Secret) || strings.Contains(string(raw), key.Secret) {
			t.Fatal("a secret reached the audit trail")
		}
	}
	if names["GetAuthorizationToken"] != 1 || names["PutImage"] == 0 || names["BatchGetImage"] == 0 {
		t.Fatalf("audit events by name: %v", names)
	}
}

// credHelperBinary finds docker-credential-ecr-login on PATH or in <module>/.tools/bin.
func credHelperBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("docker-credential-ecr-login"); err == nil {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(filepath.Dir(file)), ".tools", "bin", "docker-credential-ecr-login")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	msg := "docker-credential-ecr-login not found: run GOBIN=$PWD/.tools/bin go install " +
		"github.com/awslabs/amazon-ecr-credential-helper/ecr-login/cli/docker-credential-ecr-login@" + credHelperVersion
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
