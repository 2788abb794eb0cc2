package ecrapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/opencontainers/go-digest"
)

// uploadLayer sends p through the ECR layer upload API in parts of partSize.
func uploadLayer(t testing.TB, api *ecr.Client, repo string, p []byte, partSize int) digest.Digest {
	t.Helper()
	init := must[*ecr.InitiateLayerUploadOutput](t)(api.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String(repo)}))
	for off := 0; off < len(p); off += partSize {
		end := min(off+partSize, len(p))
		out := must[*ecr.UploadLayerPartOutput](t)(api.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String(repo),
			UploadId: init.UploadId, PartFirstByte: aws.Int64(int64(off)), PartLastByte: aws.Int64(int64(end - 1)), LayerPartBlob: p[off:end]}))
		if aws.ToInt64(out.LastByteReceived) != int64(end-1) {
			t.Fatalf("lastByteReceived %d, want %d", aws.ToInt64(out.LastByteReceived), end-1)
		}
	}
	d := digest.FromBytes(p)
	done := must[*ecr.CompleteLayerUploadOutput](t)(api.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String(repo),
		UploadId: init.UploadId, LayerDigests: []string{d.String()}}))
	if aws.ToString(done.LayerDigest) != d.String() {
		t.Fatalf("completed %+v", done)
	}
	return d
}

type testImage struct {
	config, layer []byte
	manifest      string
	digest        digest.Digest
}

func newImage(t testing.TB, seed string) testImage {
	config := []byte(`{"architecture":"amd64","os":"linux","seed":"` + seed + `"}`)
	layer := bytes.Repeat([]byte(seed), 1000)
	m := map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest.FromBytes(config), "size": len(config)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest.FromBytes(layer), "size": len(layer)}}}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return testImage{config: config, layer: layer, manifest: string(b), digest: digest.FromBytes(b)}
}

func (img testImage) push(t testing.TB, api *ecr.Client, repo, tag string) (*ecr.PutImageOutput, error) {
	for _, blob := range [][]byte{img.config, img.layer} { // as docker does: upload what is missing
		avail := must[*ecr.BatchCheckLayerAvailabilityOutput](t)(api.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{
			RepositoryName: aws.String(repo), LayerDigests: []string{digest.FromBytes(blob).String()}}))
		if len(avail.Layers) == 0 {
			uploadLayer(t, api, repo, blob, 1<<20)
		}
	}
	in := &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(img.manifest),
		ImageManifestMediaType: aws.String("application/vnd.oci.image.manifest.v1+json")}
	if tag != "" {
		in.ImageTag = aws.String(tag)
	}
	return api.PutImage(ctx, in)
}

// TestImages pushes through the ECR API and reads back with every image operation.
func TestImages(t *testing.T) {
	c := start(t)
	api := c.ecr(c.root)
	must[*ecr.CreateRepositoryOutput](t)(api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("app")}))
	img := newImage(t, "one")
	before := time.Now().Add(-time.Second)
	put := must[*ecr.PutImageOutput](t)(img.push(t, api, "app", "v1"))
	if aws.ToString(put.Image.ImageId.ImageDigest) != img.digest.String() || aws.ToString(put.Image.ImageId.ImageTag) != "v1" ||
		aws.ToString(put.Image.ImageManifest) != img.manifest {
		t.Fatalf("put %+v", put.Image)
	}
	_, err := img.push(t, api, "app", "v1")
	wantError(t, err, "ImageAlreadyExistsException", img.digest.String())
	must[*ecr.PutImageOutput](t)(img.push(t, api, "app", "latest"))
	other := newImage(t, "two")
	must[*ecr.PutImageOutput](t)(other.push(t, api, "app", ""))

	// PutImage's failures.
	_, err = api.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("app"), ImageManifest: aws.String(newImage(t, "three").manifest)})
	wantError(t, err, "LayersNotFoundException", "required for pushing image into repository with name 'app'")
	_, err = api.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("app"), ImageManifest: aws.String(img.manifest),
		ImageDigest: aws.String(other.digest.String()), ImageTag: aws.String("x")})
	wantError(t, err, "ImageDigestDoesNotMatchException", other.digest.String())
	missingChild := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` +
		newImage(t, "absent").digest.String() + `","size":10}]}`
	_, err = api.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("app"), ImageManifest: aws.String(missingChild), ImageTag: aws.String("multi")})
	wantError(t, err, "ReferencedImagesNotFoundException", newImage(t, "absent").digest.String())
	_, err = api.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("app"), ImageManifest: aws.String(`{"schemaVersion":2}`)})
	wantError(t, err, "InvalidParameterException", "ImageManifest")
	_, err = api.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("nope"), ImageManifest: aws.String(img.manifest)})
	wantError(t, err, "RepositoryNotFoundException", "'nope'")

	// ListImages: one id per tag, untagged images once; pages of two.
	var ids []string
	pages := ecr.NewListImagesPaginator(api, &ecr.ListImagesInput{RepositoryName: aws.String("app"), MaxResults: aws.Int32(2)})
	for pages.HasMorePages() {
		for _, id := range must[*ecr.ListImagesOutput](t)(pages.NextPage(ctx)).ImageIds {
			ids = append(ids, aws.ToString(id.ImageDigest)+"@"+aws.ToString(id.ImageTag))
		}
	}
	want := []string{img.digest.String() + "@latest", img.digest.String() + "@v1", other.digest.String() + "@"}
	if img.digest > other.digest {
		want = []string{other.digest.String() + "@", img.digest.String() + "@latest", img.digest.String() + "@v1"}
	}
	if !equal(ids, want) {
		t.Fatalf("listed %v, want %v", ids, want)
	}
	untagged := must[*ecr.ListImagesOutput](t)(api.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("app"),
		Filter: &types.ListImagesFilter{TagStatus: types.TagStatusUntagged}}))
	if len(untagged.ImageIds) != 1 || aws.ToString(untagged.ImageIds[0].ImageDigest) != other.digest.String() {
		t.Fatalf("untagged %+v", untagged.ImageIds)
	}

	// BatchGetImage records a pull; DescribeImages reports sizes, tags, push and pull times.
	got := must[*ecr.BatchGetImageOutput](t)(api.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("app"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}, {ImageTag: aws.String("missing")},
			{ImageDigest: aws.String("sha256:zz")}, {}, {ImageTag: aws.String("v1"), ImageDigest: aws.String(other.digest.String())}}}))
	if len(got.Images) != 1 || aws.ToString(got.Images[0].ImageManifest) != img.manifest ||
		aws.ToString(got.Images[0].ImageManifestMediaType) != "application/vnd.oci.image.manifest.v1+json" || len(got.Failures) != 4 {
		t.Fatalf("batch get %+v", got)
	}
	for i, code := range []types.ImageFailureCode{types.ImageFailureCodeImageNotFound, types.ImageFailureCodeInvalidImageDigest,
		types.ImageFailureCodeMissingDigestAndTag, types.ImageFailureCodeImageTagDoesNotMatchDigest} {
		if got.Failures[i].FailureCode != code {
			t.Errorf("failure %d: %s, want %s", i, got.Failures[i].FailureCode, code)
		}
	}
	var detail types.ImageDetail
	deadline := time.Now().Add(5 * time.Second)
	for {
		described := must[*ecr.DescribeImagesOutput](t)(api.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("app"),
			ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("latest")}}}))
		detail = described.ImageDetails[0]
		if detail.LastRecordedPullTime != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if aws.ToString(detail.ImageDigest) != img.digest.String() || !equal(detail.ImageTags, []string{"latest", "v1"}) ||
		aws.ToInt64(detail.ImageSizeInBytes) != int64(len(img.layer)) || detail.ImagePushedAt.Before(before) ||
		detail.LastRecordedPullTime == nil || aws.ToString(detail.ArtifactMediaType) != "application/vnd.oci.image.config.v1+json" ||
		aws.ToString(detail.RegistryId) != c.acct {
		t.Fatalf("detail %+v", detail)
	}
	_, err = api.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("app"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("gone")}}})
	wantError(t, err, "ImageNotFoundException", "The image with imageId {imageTag:'gone'} does not exist within the repository with name 'app' in the registry with id '"+c.acct+"'")
	var all []string
	dpages := ecr.NewDescribeImagesPaginator(api, &ecr.DescribeImagesInput{RepositoryName: aws.String("app"), MaxResults: aws.Int32(1)})
	for dpages.HasMorePages() {
		for _, d := range must[*ecr.DescribeImagesOutput](t)(dpages.NextPage(ctx)).ImageDetails {
			all = append(all, aws.ToString(d.ImageDigest))
		}
	}
	if len(all) != 2 {
		t.Fatalf("described %v", all)
	}

	// Layers: availability and download URL (served by the registry).
	avail := must[*ecr.BatchCheckLayerAvailabilityOutput](t)(api.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{
		RepositoryName: aws.String("app"), LayerDigests: []string{digest.FromBytes(img.layer).String(), digest.FromString("no").String(), "bad"}}))
	if len(avail.Layers) != 1 || avail.Layers[0].LayerAvailability != types.LayerAvailabilityAvailable ||
		aws.ToInt64(avail.Layers[0].LayerSize) != int64(len(img.layer)) || len(avail.Failures) != 2 ||
		avail.Failures[0].FailureCode != types.LayerFailureCodeMissingLayerDigest || avail.Failures[1].FailureCode != types.LayerFailureCodeInvalidLayerDigest {
		t.Fatalf("availability %+v", avail)
	}
	dl := must[*ecr.GetDownloadUrlForLayerOutput](t)(api.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{
		RepositoryName: aws.String("app"), LayerDigest: aws.String(digest.FromBytes(img.layer).String())}))
	resp, err := http.Get(aws.ToString(dl.DownloadUrl))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, img.layer) {
		t.Fatalf("download %s: %d, %d bytes", aws.ToString(dl.DownloadUrl), resp.StatusCode, len(body))
	}
	_, err = api.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String("app"), LayerDigest: aws.String(digest.FromString("no").String())})
	wantError(t, err, "LayersNotFoundException", "does not exist in the repository with name 'app'")

	// BatchDeleteImage: a tag, then the image by digest with its last tag; a repository with
	// images is not deleted without force.
	_, err = api.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("app")})
	wantError(t, err, "RepositoryNotEmptyException",
		"The repository with name 'app' in registry with id '"+c.acct+"' cannot be deleted because it still contains images")
	deleted := must[*ecr.BatchDeleteImageOutput](t)(api.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("app"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}, {ImageTag: aws.String("nope")}}}))
	if len(deleted.ImageIds) != 1 || len(deleted.Failures) != 1 || deleted.Failures[0].FailureCode != types.ImageFailureCodeImageNotFound ||
		aws.ToString(deleted.Failures[0].FailureReason) != "Requested image not found" {
		t.Fatalf("deleted %+v", deleted)
	}
	deleted = must[*ecr.BatchDeleteImageOutput](t)(api.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("app"),
		ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(img.digest.String())}}}))
	if len(deleted.ImageIds) != 1 || aws.ToString(deleted.ImageIds[0].ImageTag) != "latest" {
		t.Fatalf("deleted %+v", deleted)
	}
	must[*ecr.DeleteRepositoryOutput](t)(api.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("app"), Force: true}))
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestImmutableTags: PutImage cannot move an immutable tag; excluded tags stay mutable.
func TestImmutableTags(t *testing.T) {
	c := start(t)
	api := c.ecr(c.root)
	must[*ecr.CreateRepositoryOutput](t)(api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("fixed"),
		ImageTagMutability: types.ImageTagMutabilityImmutableWithExclusion,
		ImageTagMutabilityExclusionFilters: []types.ImageTagMutabilityExclusionFilter{
			{Filter: aws.String("latest"), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard}}}))
	one, two := newImage(t, "one"), newImage(t, "two")
	must[*ecr.PutImageOutput](t)(one.push(t, api, "fixed", "v1"))
	must[*ecr.PutImageOutput](t)(one.push(t, api, "fixed", "latest"))
	_, err := two.push(t, api, "fixed", "v1")
	wantError(t, err, "ImageTagAlreadyExistsException", "The image tag 'v1' already exists in the 'fixed' repository and cannot be overwritten because the tag is immutable.")
	must[*ecr.PutImageOutput](t)(two.push(t, api, "fixed", "latest"))
	must[*ecr.PutImageTagMutabilityOutput](t)(api.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{
		RepositoryName: aws.String("fixed"), ImageTagMutability: types.ImageTagMutabilityMutable}))
	must[*ecr.PutImageOutput](t)(two.push(t, api, "fixed", "v1"))
}

// TestLayerUploadRules: parts must be contiguous, every part but the last at least 5 MiB,
// the digest must match, and the session belongs to its repository.
func TestLayerUploadRules(t *testing.T) {
	c := start(t)
	api := c.ecr(c.root)
	for _, name := range []string{"up", "other"} {
		must[*ecr.CreateRepositoryOutput](t)(api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)}))
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), (6<<20)/16) // 6 MiB
	tail := []byte("tail")
	content := append(append([]byte{}, big...), tail...)
	d := uploadLayer(t, api, "up", content, len(big))
	if d != digest.FromBytes(content) {
		t.Fatal(d)
	}

	part := func(id *string, repo string, first int64, p []byte) error {
		_, err := api.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String(repo), UploadId: id,
			PartFirstByte: aws.Int64(first), PartLastByte: aws.Int64(first + int64(len(p)) - 1), LayerPartBlob: p})
		return err
	}
	complete := func(id *string, d digest.Digest) error {
		_, err := api.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String("up"), UploadId: id, LayerDigests: []string{d.String()}})
		return err
	}
	start := func() *string {
		return must[*ecr.InitiateLayerUploadOutput](t)(api.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("up")})).UploadId
	}

	id := start()
	if err := part(id, "up", 0, tail); err != nil {
		t.Fatal(err)
	}
	wantError(t, part(id, "up", 10, tail), "InvalidLayerPartException", "Last valid byte received: 3")
	wantError(t, part(id, "other", 4, tail), "UploadNotFoundException", "is not found in the repository with name 'other'")
	if err := part(id, "up", 4, tail); err != nil { // a second part after a small one
		t.Fatal(err)
	}
	wantError(t, complete(id, digest.FromString("tailtail")), "LayerPartTooSmallException", "Layer parts must be at least 5 MiB in size.")
	wantError(t, complete(id, digest.FromString("tailtail")), "UploadNotFoundException", "")

	id = start()
	if err := part(id, "up", 0, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	wantError(t, complete(id, digest.FromString("xyz")), "InvalidLayerException", digest.FromString("xyz").String())

	id = start()
	wantError(t, complete(id, digest.FromString("")), "EmptyUploadException", "")

	id = start()
	if err := part(id, "up", 0, content[:len(big)]); err != nil {
		t.Fatal(err)
	}
	if err := part(id, "up", int64(len(big)), tail); err != nil {
		t.Fatal(err)
	}
	wantError(t, complete(id, d), "LayerAlreadyExistsException", d.String())
}

// TestUploadSessionsShared: an upload begun with InitiateLayerUpload can be finished on the
// registry route, and one begun on the registry route with CompleteLayerUpload.
func TestUploadSessionsShared(t *testing.T) {
	c := start(t)
	api := c.ecr(c.root)
	must[*ecr.CreateRepositoryOutput](t)(api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("shared")}))
	content := []byte("bytes begun on the ECR API")
	d := digest.FromBytes(content)
	up := must[*ecr.InitiateLayerUploadOutput](t)(api.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("shared")}))
	req, _ := http.NewRequest(http.MethodPut, c.url+"/v2/"+c.acct+"/shared/blobs/uploads/"+aws.ToString(up.UploadId)+"?digest="+d.String(), bytes.NewReader(content))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("registry PUT of an ECR upload: %d", resp.StatusCode)
	}
	avail := must[*ecr.BatchCheckLayerAvailabilityOutput](t)(api.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{
		RepositoryName: aws.String("shared"), LayerDigests: []string{d.String()}}))
	if len(avail.Layers) != 1 {
		t.Fatalf("availability %+v", avail)
	}

	resp, err = http.Post(c.url+"/v2/"+c.acct+"/shared/blobs/uploads/", "application/octet-stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	location, _, _ := strings.Cut(resp.Header.Get("Location"), "?")
	id := path.Base(location)
	other := []byte("bytes begun on the registry route")
	must[*ecr.UploadLayerPartOutput](t)(api.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String("shared"), UploadId: aws.String(id),
		PartFirstByte: aws.Int64(0), PartLastByte: aws.Int64(int64(len(other) - 1)), LayerPartBlob: other}))
	must[*ecr.CompleteLayerUploadOutput](t)(api.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String("shared"),
		UploadId: aws.String(id), LayerDigests: []string{digest.FromBytes(other).String()}}))
}

// TestReferrers: ListImageReferrers lists the manifests whose subject is an image, filtered
// by artifact type and paged.
func TestReferrers(t *testing.T) {
	c := start(t)
	api := c.ecr(c.root)
	must[*ecr.CreateRepositoryOutput](t)(api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("refs")}))
	subject := newImage(t, "subject")
	must[*ecr.PutImageOutput](t)(subject.push(t, api, "refs", "v1"))
	empty := []byte("{}")
	uploadLayer(t, api, "refs", empty, 1<<20)
	var want []string
	for i, artifactType := range []string{"application/vnd.example.sbom", "application/vnd.example.sig", "application/vnd.example.sbom"} {
		m := map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "artifactType": artifactType,
			"config":      map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest.FromBytes(empty), "size": 2},
			"layers":      []any{},
			"subject":     map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject.digest, "size": len(subject.manifest)},
			"annotations": map[string]string{"n": string(rune('a' + i))}}
		b, _ := json.Marshal(m)
		must[*ecr.PutImageOutput](t)(api.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("refs"), ImageManifest: aws.String(string(b))}))
		if artifactType == "application/vnd.example.sbom" {
			want = append(want, digest.FromBytes(b).String())
		}
	}
	var got []string
	var token *string
	for {
		out := must[*ecr.ListImageReferrersOutput](t)(api.ListImageReferrers(ctx, &ecr.ListImageReferrersInput{RepositoryName: aws.String("refs"),
			SubjectId: &types.SubjectIdentifier{ImageDigest: aws.String(subject.digest.String())}, MaxResults: aws.Int32(1), NextToken: token,
			Filter: &types.ListImageReferrersFilter{ArtifactTypes: []string{"application/vnd.example.sbom"}}}))
		for _, r := range out.Referrers {
			if aws.ToString(r.ArtifactType) != "application/vnd.example.sbom" || r.Annotations["n"] == "" || aws.ToInt64(r.Size) == 0 {
				t.Fatalf("referrer %+v", r)
			}
			got = append(got, aws.ToString(r.Digest))
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	slices.Sort(want)
	if !equal(got, want) {
		t.Fatalf("referrers %v, want %v", got, want)
	}
	scan := must[*ecr.PutImageScanningConfigurationOutput](t)(api.PutImageScanningConfiguration(ctx, &ecr.PutImageScanningConfigurationInput{
		RepositoryName: aws.String("refs"), ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true}}))
	if !scan.ImageScanningConfiguration.ScanOnPush {
		t.Fatalf("scanning %+v", scan)
	}
}
