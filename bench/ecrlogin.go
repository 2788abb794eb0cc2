package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// benchUser is the IAM user whose token the coffer-auth target sends: an ordinary user with
// an inline identity policy, so every registry request goes through policy evaluation (the
// root user would be allowed before any policy is read).
const benchUser = "bench-client"

// ecrLogin is the setup of a Coffer instance with authorization on, done as an operator
// would with the AWS SDK: with the root key that the first start wrote to credsFile it
// creates the repository repoName and the IAM user benchUser with an inline push/pull policy
// on that repository and an access key; signed as that user it asks GetAuthorizationToken.
// It returns the registry credentials (AWS and the token) and the repository's path in the
// registry (ACCOUNT/repoName).
func ecrLogin(ctx context.Context, endpoint, region, credsFile, repoName string) (*credentials, string, error) {
	root, err := readSharedCredentials(credsFile, "default")
	if err != nil {
		return nil, "", err
	}
	rootCfg := sdkConfig(endpoint, region, root)
	repo, err := ecr.NewFromConfig(rootCfg).CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repoName)})
	if err != nil {
		return nil, "", fmt.Errorf("ecr CreateRepository %s: %w", repoName, err)
	}
	policy, err := pushPullPolicy(aws.ToString(repo.Repository.RepositoryArn))
	if err != nil {
		return nil, "", err
	}
	admin := iam.NewFromConfig(rootCfg)
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(benchUser)}); err != nil {
		return nil, "", fmt.Errorf("iam CreateUser %s: %w", benchUser, err)
	}
	if _, err := admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(benchUser),
		PolicyName: aws.String("bench-push-pull"), PolicyDocument: aws.String(policy)}); err != nil {
		return nil, "", fmt.Errorf("iam PutUserPolicy: %w", err)
	}
	key, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(benchUser)})
	if err != nil {
		return nil, "", fmt.Errorf("iam CreateAccessKey: %w", err)
	}
	user := aws.Credentials{AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId),
		SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey)}
	tok, err := ecr.NewFromConfig(sdkConfig(endpoint, region, user)).GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return nil, "", fmt.Errorf("ecr GetAuthorizationToken as %s: %w", benchUser, err)
	}
	if len(tok.AuthorizationData) == 0 {
		return nil, "", errors.New("ecr GetAuthorizationToken: no authorization data")
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(tok.AuthorizationData[0].AuthorizationToken))
	if err != nil {
		return nil, "", fmt.Errorf("ecr GetAuthorizationToken: token is not base64: %w", err)
	}
	name, password, ok := strings.Cut(string(raw), ":")
	if !ok || name != "AWS" {
		return nil, "", errors.New("ecr GetAuthorizationToken: token is not AWS:<password>")
	}
	return &credentials{User: name, Password: password}, aws.ToString(repo.Repository.RegistryId) + "/" + repoName, nil
}

// sdkConfig points the SDK at endpoint, signing as c, without retries or the machine's own
// AWS configuration.
func sdkConfig(endpoint, region string, c aws.Credentials) aws.Config {
	return aws.Config{Region: region, BaseEndpoint: aws.String(endpoint), RetryMaxAttempts: 1,
		HTTPClient:  &http.Client{Timeout: 30 * time.Second},
		Credentials: awscreds.StaticCredentialsProvider{Value: c}}
}

// pushPullPolicy is an identity policy that lets its user log in and push and pull the
// repository repoARN, nothing else.
func pushPullPolicy(repoARN string) (string, error) {
	type statement struct {
		Effect   string
		Action   []string
		Resource string
	}
	doc := struct {
		Version   string
		Statement []statement
	}{Version: "2012-10-17", Statement: []statement{
		{Effect: "Allow", Action: []string{"ecr:GetAuthorizationToken"}, Resource: "*"},
		{Effect: "Allow", Action: []string{
			"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
			"ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage",
		}, Resource: repoARN},
	}}
	b, err := json.Marshal(doc)
	return string(b), err
}

// readSharedCredentials reads the access key of profile from a file in the AWS
// shared-credentials format.
func readSharedCredentials(path, profile string) (aws.Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return aws.Credentials{}, err
	}
	defer f.Close()
	var c aws.Credentials
	current := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			current = strings.TrimSpace(line[1 : len(line)-1])
		case current == profile:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "aws_access_key_id":
				c.AccessKeyID = strings.TrimSpace(v)
			case "aws_secret_access_key":
				c.SecretAccessKey = strings.TrimSpace(v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return aws.Credentials{}, fmt.Errorf("%s: %w", path, err)
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return aws.Credentials{}, fmt.Errorf("%s: no access key in profile %s", path, profile)
	}
	return c, nil
}
