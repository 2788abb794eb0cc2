package ecrapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/coffer-registry/coffer/internal/awstest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestOCIPushSeenByECR: an image pushed through the registry route (go-containerregistry, as
// crane does) is what DescribeImages, ListImages and BatchGetImage report; an immutable tag
// is refused on the registry route as ECR refuses it (TAG_INVALID).
func TestOCIPushSeenByECR(t *testing.T) {
	c := start(t)
	api := c.ecr(c.root)
	repo := must[*ecr.CreateRepositoryOutput](t)(api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("oci/app"),
		ImageTagMutability: types.ImageTagMutabilityImmutable})).Repository
	// repositoryUri is an image reference a registry client accepts as is.
	ref, err := name.ParseReference(aws.ToString(repo.RepositoryUri)+":v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	size := int64(0)
	layers, _ := img.Layers()
	for _, l := range layers {
		s, _ := l.Size()
		size += s
	}

	list := must[*ecr.ListImagesOutput](t)(api.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("oci/app")}))
	if len(list.ImageIds) != 1 || aws.ToString(list.ImageIds[0].ImageDigest) != d.String() || aws.ToString(list.ImageIds[0].ImageTag) != "v1" {
		t.Fatalf("listed %+v", list.ImageIds)
	}
	desc := must[*ecr.DescribeImagesOutput](t)(api.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("oci/app")}))
	if len(desc.ImageDetails) != 1 || aws.ToInt64(desc.ImageDetails[0].ImageSizeInBytes) != size || desc.ImageDetails[0].ImagePushedAt == nil {
		t.Fatalf("described %+v (want size %d)", desc.ImageDetails, size)
	}
	got := must[*ecr.BatchGetImageOutput](t)(api.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("oci/app"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}}))
	raw, _ := img.RawManifest()
	if len(got.Images) != 1 || aws.ToString(got.Images[0].ImageManifest) != string(raw) {
		t.Fatalf("batch get %+v", got)
	}

	other, _ := random.Image(1024, 1)
	err = remote.Write(ref, other)
	if err == nil || !strings.Contains(err.Error(), "TAG_INVALID") ||
		!strings.Contains(err.Error(), "The image tag 'v1' already exists in the 'oci/app' repository and cannot be overwritten because the tag is immutable.") {
		t.Fatalf("push over an immutable tag: %v", err)
	}
	// Pushing the same image again is not a change.
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
}

// TestAWSCLI drives the main flow with the aws CLI.
func TestAWSCLI(t *testing.T) {
	c := start(t)
	awstest.NeedTool(t, "aws")
	run := func(args ...string) string {
		t.Helper()
		out, stderr, err := c.awsCLI(t, c.root, args...)
		if err != nil {
			t.Fatalf("aws %v: %v: %s", args, err, stderr)
		}
		return out
	}
	var created struct {
		Repository struct{ RepositoryUri, ImageTagMutability string }
	}
	if err := json.Unmarshal([]byte(run("ecr", "create-repository", "--repository-name", "cli/app", "--tags", "Key=team,Value=blue")), &created); err != nil {
		t.Fatal(err)
	}
	if created.Repository.RepositoryUri != c.host+"/"+c.acct+"/cli/app" || created.Repository.ImageTagMutability != "MUTABLE" {
		t.Fatalf("created %+v", created)
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + c.acct + `:root"},"Action":"ecr:BatchGetImage"}]}`
	run("ecr", "set-repository-policy", "--repository-name", "cli/app", "--policy-text", doc)
	var described struct {
		Repositories []struct{ RepositoryName, ImageTagMutability string }
	}
	run("ecr", "put-image-tag-mutability", "--repository-name", "cli/app", "--image-tag-mutability", "IMMUTABLE")
	if err := json.Unmarshal([]byte(run("ecr", "describe-repositories", "--repository-names", "cli/app")), &described); err != nil {
		t.Fatal(err)
	}
	if len(described.Repositories) != 1 || described.Repositories[0].ImageTagMutability != "IMMUTABLE" {
		t.Fatalf("described %+v", described)
	}
	var batch struct {
		Images, Failures []struct{ FailureCode string }
	}
	if err := json.Unmarshal([]byte(run("ecr", "batch-get-image", "--repository-name", "cli/app", "--image-ids", "imageTag=none")), &batch); err != nil {
		t.Fatal(err)
	}
	if len(batch.Failures) != 1 || batch.Failures[0].FailureCode != "ImageNotFound" {
		t.Fatalf("batch %+v", batch)
	}
	run("ecr", "delete-repository", "--repository-name", "cli/app")
	_, stderr, err := c.awsCLI(t, c.root, "ecr", "describe-repositories", "--repository-names", "cli/app")
	if err == nil || !strings.Contains(stderr, "RepositoryNotFoundException") {
		t.Fatalf("after delete: %v %s", err, stderr)
	}
}

// TestBoto3 drives the same flow with boto3.
func TestBoto3(t *testing.T) {
	c := start(t)
	out, err := c.python(t, c.root, `
import boto3, json, os
ecr = boto3.client("ecr", endpoint_url=os.environ["COFFER_URL"])
r = ecr.create_repository(repositoryName="py/app", imageTagMutability="IMMUTABLE",
    imageScanningConfiguration={"scanOnPush": True})["repository"]
assert r["imageTagMutability"] == "IMMUTABLE" and r["imageScanningConfiguration"]["scanOnPush"], r
doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}]})
ecr.set_repository_policy(repositoryName="py/app", policyText=doc)
assert ecr.get_repository_policy(repositoryName="py/app")["policyText"] == doc
ecr.put_image_tag_mutability(repositoryName="py/app", imageTagMutability="MUTABLE")
d = ecr.describe_repositories(repositoryNames=["py/app"])["repositories"][0]
assert d["imageTagMutability"] == "MUTABLE" and d["createdAt"].year >= 2024, d
b = ecr.batch_get_image(repositoryName="py/app", imageIds=[{"imageTag": "x"}])
assert b["images"] == [] and b["failures"][0]["failureCode"] == "ImageNotFound", b
ecr.delete_repository(repositoryName="py/app")
try:
    ecr.delete_repository(repositoryName="py/app")
    raise SystemExit("deleted twice")
except ecr.exceptions.RepositoryNotFoundException as e:
    print("ok", e.response["Error"]["Message"])
`)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(out, "ok The repository with name 'py/app' does not exist in the registry with id '"+c.acct+"'") {
		t.Fatalf("boto3: %s", out)
	}
}
