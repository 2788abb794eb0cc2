package ecrapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/opencontainers/go-digest"

	"github.com/coffer-registry/coffer/manifest"
	"github.com/coffer-registry/coffer/store"
)

// tagStatus reads a TagStatus filter: "" for ANY.
func tagStatus(ts types.TagStatus) (string, error) {
	switch ts {
	case "", types.TagStatusAny:
		return "", nil
	case types.TagStatusTagged, types.TagStatusUntagged:
		return string(ts), nil
	}
	return "", invalidParameter("Invalid parameter at 'filter.tagStatus' failed to satisfy constraint: 'Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]'")
}

func (s *service) listImages(ctx context.Context, in *ecr.ListImagesInput) (*ecr.ListImagesOutput, error) {
	limit, err := pageSize(in.MaxResults, maxPageSize)
	if err != nil {
		return nil, err
	}
	status := ""
	if in.Filter != nil {
		if status, err = tagStatus(in.Filter.TagStatus); err != nil {
			return nil, err
		}
	}
	after, err := decodeToken(in.NextToken)
	if err != nil {
		return nil, err
	}
	afterDigest, afterTag, _ := strings.Cut(after, " ")
	t, err := s.repository(ctx, "ecr:ListImages", in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	// The token is the last (digest, tag) sent; the listing resumes inside that image.
	images, err := s.Store.Images(ctx, t.repo.ID, store.ImageQuery{From: digest.Digest(afterDigest), Limit: limit + 1, TagStatus: status})
	if err != nil {
		return nil, err
	}
	out := &ecr.ListImagesOutput{ImageIds: []types.ImageIdentifier{}}
	type position struct{ digest, tag string }
	var ids []position
	for _, img := range images {
		d := img.Digest.String()
		if d == afterDigest && afterTag == "" {
			continue
		}
		if len(img.Tags) == 0 {
			ids = append(ids, position{d, ""})
			continue
		}
		for _, tag := range img.Tags {
			if d == afterDigest && tag <= afterTag {
				continue
			}
			ids = append(ids, position{d, tag})
		}
	}
	for i, p := range ids {
		if i == limit {
			last := ids[i-1]
			out.NextToken = encodeToken(last.digest + " " + last.tag)
			break
		}
		id := types.ImageIdentifier{ImageDigest: aws.String(p.digest)}
		if p.tag != "" {
			id.ImageTag = aws.String(p.tag)
		}
		out.ImageIds = append(out.ImageIds, id)
	}
	return out, nil
}

func (s *service) imageDetail(t target, img store.Image) types.ImageDetail {
	d := types.ImageDetail{
		RegistryId:             aws.String(t.account),
		RepositoryName:         aws.String(t.repo.Name),
		ImageDigest:            aws.String(img.Digest.String()),
		ImageSizeInBytes:       aws.Int64(img.Size),
		ImagePushedAt:          aws.Time(img.PushedAt),
		ImageManifestMediaType: aws.String(img.MediaType),
		ImageStatus:            types.ImageStatusActive,
	}
	if len(img.Tags) > 0 {
		d.ImageTags = img.Tags
	}
	if img.ArtifactType != "" {
		d.ArtifactMediaType = aws.String(img.ArtifactType)
	}
	if !img.LastPulledAt.IsZero() {
		d.LastRecordedPullTime = aws.Time(img.LastPulledAt)
	}
	if img.Subject != "" {
		d.SubjectManifestDigest = aws.String(img.Subject.String())
	}
	return d
}

// imageIDString is how ECR's messages print an image id.
func imageIDString(id types.ImageIdentifier) string {
	var parts []string
	if id.ImageDigest != nil {
		parts = append(parts, "imageDigest:'"+*id.ImageDigest+"'")
	}
	if id.ImageTag != nil {
		parts = append(parts, "imageTag:'"+*id.ImageTag+"'")
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// imageFailure is one entry of BatchGetImage's and BatchDeleteImage's failures.
func imageFailure(id types.ImageIdentifier, code types.ImageFailureCode, reason string) types.ImageFailure {
	return types.ImageFailure{ImageId: &id, FailureCode: code, FailureReason: aws.String(reason)}
}

// findImage resolves an image id (digest, tag or both) to the stored manifest, or a failure.
func (s *service) findImage(ctx context.Context, repoID int64, id types.ImageIdentifier) (store.Manifest, *types.ImageFailure, error) {
	fail := func(code types.ImageFailureCode, reason string) (store.Manifest, *types.ImageFailure, error) {
		f := imageFailure(id, code, reason)
		return store.Manifest{}, &f, nil
	}
	if id.ImageDigest == nil && id.ImageTag == nil {
		return fail(types.ImageFailureCodeMissingDigestAndTag, "Invalid request parameters: both tag and digest cannot be null")
	}
	var want digest.Digest
	if id.ImageDigest != nil {
		if !layerDigestPattern.MatchString(*id.ImageDigest) || digest.Digest(*id.ImageDigest).Validate() != nil {
			return fail(types.ImageFailureCodeInvalidImageDigest, "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'")
		}
		want = digest.Digest(*id.ImageDigest)
	}
	var m store.Manifest
	var err error
	if id.ImageTag != nil {
		if checkImageTag(*id.ImageTag) != nil {
			return fail(types.ImageFailureCodeInvalidImageTag, "Invalid request parameters: image tag should be 1 to 300 characters long")
		}
		m, err = s.Store.ResolveTag(ctx, repoID, *id.ImageTag)
		if errors.Is(err, store.ErrTagNotFound) {
			return fail(types.ImageFailureCodeImageNotFound, "Requested image not found")
		}
		if err == nil && want != "" && m.Digest != want {
			return fail(types.ImageFailureCodeImageTagDoesNotMatchDigest, "Invalid request parameters: given tag does not map to the given digest")
		}
	} else {
		m, err = s.Store.GetManifest(ctx, repoID, want)
		if errors.Is(err, store.ErrManifestNotFound) {
			return fail(types.ImageFailureCodeImageNotFound, "Requested image not found")
		}
	}
	if err != nil {
		return store.Manifest{}, nil, err
	}
	return m, nil, nil
}

func (s *service) describeImages(ctx context.Context, in *ecr.DescribeImagesInput) (*ecr.DescribeImagesOutput, error) {
	status := ""
	var err error
	if in.Filter != nil {
		if status, err = tagStatus(in.Filter.TagStatus); err != nil {
			return nil, err
		}
	}
	if len(in.ImageIds) > maxBatch {
		return nil, invalidParameter("Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length less than or equal to %d'", maxBatch)
	}
	if len(in.ImageIds) > 0 && (in.MaxResults != nil || in.NextToken != nil) {
		return nil, invalidParameter("Invalid parameter at 'maxResults' failed to satisfy constraint: 'maxResults and nextToken cannot be used with imageIds'")
	}
	limit, err := pageSize(in.MaxResults, maxPageSize)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken(in.NextToken)
	if err != nil {
		return nil, err
	}
	t, err := s.repository(ctx, "ecr:DescribeImages", in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	out := &ecr.DescribeImagesOutput{ImageDetails: []types.ImageDetail{}}
	if len(in.ImageIds) > 0 {
		seen := map[digest.Digest]bool{}
		for _, id := range in.ImageIds {
			m, failure, err := s.findImage(ctx, t.repo.ID, id)
			if err != nil {
				return nil, err
			}
			if failure != nil {
				if failure.FailureCode == types.ImageFailureCodeImageNotFound {
					return nil, imageNotFound(imageIDString(id), t.repo.Name, t.account)
				}
				return nil, invalidParameter("Invalid parameter at 'imageIds': %s", aws.ToString(failure.FailureReason))
			}
			if seen[m.Digest] {
				continue
			}
			seen[m.Digest] = true
			img, err := s.Store.Image(ctx, t.repo.ID, m.Digest)
			if errors.Is(err, store.ErrManifestNotFound) {
				return nil, imageNotFound(imageIDString(id), t.repo.Name, t.account)
			}
			if err != nil {
				return nil, err
			}
			out.ImageDetails = append(out.ImageDetails, s.imageDetail(t, img))
		}
		return out, nil
	}
	images, err := s.Store.Images(ctx, t.repo.ID, store.ImageQuery{From: digest.Digest(after), Limit: limit + 2, TagStatus: status})
	if err != nil {
		return nil, err
	}
	if len(images) > 0 && after != "" && images[0].Digest.String() == after {
		images = images[1:]
	}
	for i, img := range images {
		if i == limit {
			out.NextToken = encodeToken(images[i-1].Digest.String())
			break
		}
		out.ImageDetails = append(out.ImageDetails, s.imageDetail(t, img))
	}
	return out, nil
}

func (s *service) batchGetImage(ctx context.Context, in *ecr.BatchGetImageInput) (*ecr.BatchGetImageOutput, error) {
	if len(in.ImageIds) == 0 {
		return nil, missing("imageIds")
	}
	if len(in.ImageIds) > maxBatch || len(in.AcceptedMediaTypes) > maxBatch {
		return nil, invalidParameter("Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length less than or equal to %d'", maxBatch)
	}
	t, err := s.repository(ctx, "ecr:BatchGetImage", in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	out := &ecr.BatchGetImageOutput{Images: []types.Image{}, Failures: []types.ImageFailure{}}
	now := s.Now()
	for _, id := range in.ImageIds {
		m, failure, err := s.findImage(ctx, t.repo.ID, id)
		if err != nil {
			return nil, err
		}
		if failure != nil {
			out.Failures = append(out.Failures, *failure)
			continue
		}
		if len(in.AcceptedMediaTypes) > 0 && !slices.Contains(in.AcceptedMediaTypes, m.MediaType) {
			out.Failures = append(out.Failures, imageFailure(id, types.ImageFailureCodeImageNotFound,
				fmt.Sprintf("Requested image's media type %s is not among the accepted media types", m.MediaType)))
			continue
		}
		imageID := types.ImageIdentifier{ImageDigest: aws.String(m.Digest.String()), ImageTag: id.ImageTag}
		out.Images = append(out.Images, types.Image{RegistryId: aws.String(t.account), RepositoryName: aws.String(t.repo.Name),
			ImageId: &imageID, ImageManifest: aws.String(string(m.Payload)), ImageManifestMediaType: aws.String(m.MediaType)})
		if err := s.Store.MarkPulled(ctx, t.repo.ID, m.Digest, now); err != nil {
			s.Logger.Warn("ecrapi: recording pull time", "repository", t.repo.Name, "digest", m.Digest, "err", err)
		}
	}
	return out, nil
}

func (s *service) batchDeleteImage(ctx context.Context, in *ecr.BatchDeleteImageInput) (*ecr.BatchDeleteImageOutput, error) {
	if len(in.ImageIds) == 0 {
		return nil, missing("imageIds")
	}
	if len(in.ImageIds) > maxBatch {
		return nil, invalidParameter("Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length less than or equal to %d'", maxBatch)
	}
	t, err := s.repository(ctx, "ecr:BatchDeleteImage", in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	out := &ecr.BatchDeleteImageOutput{ImageIds: []types.ImageIdentifier{}, Failures: []types.ImageFailure{}}
	for _, id := range in.ImageIds {
		m, failure, err := s.findImage(ctx, t.repo.ID, id)
		if err != nil {
			return nil, err
		}
		if failure != nil {
			out.Failures = append(out.Failures, *failure)
			continue
		}
		deleted := types.ImageIdentifier{ImageDigest: aws.String(m.Digest.String()), ImageTag: id.ImageTag}
		if id.ImageTag != nil {
			// Removing a tag; an image whose last tag goes is deleted with it (ECR's rule).
			if err := s.Store.DeleteTag(ctx, t.repo.ID, *id.ImageTag); err != nil && !errors.Is(err, store.ErrTagNotFound) {
				return nil, err
			}
			img, err := s.Store.Image(ctx, t.repo.ID, m.Digest)
			if err != nil && !errors.Is(err, store.ErrManifestNotFound) {
				return nil, err
			}
			if err == nil && len(img.Tags) == 0 {
				if err := s.Store.DeleteManifest(ctx, t.repo.ID, m.Digest); err != nil &&
					!errors.Is(err, store.ErrManifestNotFound) && !errors.Is(err, store.ErrManifestReferenced) {
					return nil, err
				}
			}
			out.ImageIds = append(out.ImageIds, deleted)
			continue
		}
		img, err := s.Store.Image(ctx, t.repo.ID, m.Digest)
		if err != nil && !errors.Is(err, store.ErrManifestNotFound) {
			return nil, err
		}
		err = s.Store.DeleteManifest(ctx, t.repo.ID, m.Digest)
		switch {
		case errors.Is(err, store.ErrManifestReferenced):
			out.Failures = append(out.Failures, imageFailure(id, types.ImageFailureCodeImageReferencedByManifestList,
				"Requested image referenced by a manifest list"))
			continue
		case errors.Is(err, store.ErrManifestNotFound):
			out.Failures = append(out.Failures, imageFailure(id, types.ImageFailureCodeImageNotFound, "Requested image not found"))
			continue
		case err != nil:
			return nil, err
		}
		if len(img.Tags) == 0 {
			out.ImageIds = append(out.ImageIds, deleted)
		}
		for _, tag := range img.Tags {
			out.ImageIds = append(out.ImageIds, types.ImageIdentifier{ImageDigest: aws.String(m.Digest.String()), ImageTag: aws.String(tag)})
		}
	}
	return out, nil
}

func (s *service) putImage(ctx context.Context, in *ecr.PutImageInput) (*ecr.PutImageOutput, error) {
	if in.ImageManifest == nil {
		return nil, missing("imageManifest")
	}
	payload := []byte(*in.ImageManifest)
	if len(payload) == 0 || len(payload) > maxManifestLength {
		return nil, invalidParameter("Invalid parameter at 'imageManifest' failed to satisfy constraint: 'Member must have length less than or equal to %d and greater than or equal to 1'", maxManifestLength)
	}
	tag := aws.ToString(in.ImageTag)
	if in.ImageTag != nil {
		if err := checkImageTag(tag); err != nil {
			return nil, err
		}
	}
	t, err := s.repository(ctx, "ecr:PutImage", in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	parsed, err := manifest.Parse(payload, aws.ToString(in.ImageManifestMediaType))
	if err != nil {
		return nil, invalidParameter("Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax': %v", err)
	}
	m := parsed.Manifest
	m.Digest = digest.Canonical.FromBytes(payload)
	if in.ImageDigest != nil {
		given := digest.Digest(*in.ImageDigest)
		if given.Validate() != nil {
			return nil, invalidParameter("Invalid parameter at 'imageDigest' failed to satisfy constraint: 'must satisfy regular expression '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+''")
		}
		if computed := given.Algorithm().FromBytes(payload); computed != given {
			return nil, imageDigestDoesNotMatch(given.String(), computed.String())
		}
		m.Digest = given
	}
	// Storing the same image again with the same tag (or untagged) changes nothing: ECR refuses.
	if existing, err := s.Store.Image(ctx, t.repo.ID, m.Digest); err == nil {
		if (tag == "" && len(existing.Tags) == 0) || (tag != "" && slices.Contains(existing.Tags, tag)) {
			return nil, imageAlreadyExists(m.Digest.String(), tag, t.repo.Name, t.account)
		}
	} else if !errors.Is(err, store.ErrManifestNotFound) {
		return nil, err
	}
	for _, d := range parsed.Foreign {
		if _, err := s.Store.StatBlob(ctx, t.repo.ID, d.Digest); err == nil {
			m.Blobs = append(m.Blobs, d)
		} else if !errors.Is(err, store.ErrBlobNotFound) {
			return nil, err
		}
	}
	m.PushedAt = s.Now()
	err = s.Store.PutManifest(ctx, t.repo.ID, m, tag)
	var missingRef *store.MissingReferenceError
	switch {
	case errors.As(err, &missingRef) && missingRef.Manifest:
		return nil, referencedImagesNotFound("Some of the referenced images do not exist in the repository: [%s]", missingRef.Digest)
	case errors.As(err, &missingRef):
		return nil, layersNotFound("Layers with digests '[%s]' required for pushing image into repository with name '%s' in the registry with id '%s' do not exist",
			missingRef.Digest, t.repo.Name, t.account)
	case errors.Is(err, store.ErrTagImmutable):
		return nil, imageTagAlreadyExists(tag, t.repo.Name)
	case errors.Is(err, store.ErrRepositoryNotFound):
		return nil, repositoryNotFound(t.repo.Name, t.account)
	case err != nil:
		return nil, err
	}
	imageID := types.ImageIdentifier{ImageDigest: aws.String(m.Digest.String())}
	if tag != "" {
		imageID.ImageTag = aws.String(tag)
	}
	return &ecr.PutImageOutput{Image: &types.Image{RegistryId: aws.String(t.account), RepositoryName: aws.String(t.repo.Name),
		ImageId: &imageID, ImageManifest: in.ImageManifest, ImageManifestMediaType: aws.String(m.MediaType)}}, nil
}

func (s *service) listImageReferrers(ctx context.Context, in *ecr.ListImageReferrersInput) (*ecr.ListImageReferrersOutput, error) {
	if in.SubjectId == nil || in.SubjectId.ImageDigest == nil {
		return nil, missing("subjectId.imageDigest")
	}
	subject := digest.Digest(*in.SubjectId.ImageDigest)
	if subject.Validate() != nil {
		return nil, invalidParameter("Invalid parameter at 'imageDigest' failed to satisfy constraint: 'must satisfy regular expression '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+''")
	}
	limit, err := pageSize(in.MaxResults, 50)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken(in.NextToken)
	if err != nil {
		return nil, err
	}
	// ListImageReferrers is authorized as ecr:BatchGetImage (its model documentation says so).
	t, err := s.repository(ctx, "ecr:BatchGetImage", in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	refs, err := s.Store.Referrers(ctx, t.repo.ID, subject, "")
	if err != nil {
		return nil, err
	}
	var types_ []string
	if in.Filter != nil {
		types_ = in.Filter.ArtifactTypes
	}
	slices.SortFunc(refs, func(a, b store.Manifest) int { return strings.Compare(a.Digest.String(), b.Digest.String()) })
	out := &ecr.ListImageReferrersOutput{Referrers: []types.ImageReferrer{}}
	for _, r := range refs {
		if after != "" && r.Digest.String() <= after {
			continue
		}
		if len(types_) > 0 && !slices.Contains(types_, r.ArtifactType) {
			continue
		}
		if len(out.Referrers) == limit {
			out.NextToken = encodeToken(*out.Referrers[limit-1].Digest)
			break
		}
		ref := types.ImageReferrer{Digest: aws.String(r.Digest.String()), MediaType: aws.String(r.MediaType), Size: aws.Int64(r.Size),
			Annotations: r.Annotations, ArtifactStatus: types.ArtifactStatusActive}
		if r.ArtifactType != "" {
			ref.ArtifactType = aws.String(r.ArtifactType)
		}
		out.Referrers = append(out.Referrers, ref)
	}
	return out, nil
}
