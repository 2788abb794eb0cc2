package ecrapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/opencontainers/go-digest"

	"github.com/coffer-registry/coffer/blob"
	"github.com/coffer-registry/coffer/store"
)

// orphanReviewDelay: a committed layer whose repository link failed is queued for a
// garbage-collection review this long after (the registry's uploads do the same; bytes left
// unlinked by a crash are found by the collector's sweep).
const orphanReviewDelay = time.Hour

// layerPartSize is the part size InitiateLayerUpload announces.
const layerPartSize = 10 << 20

func parseLayerDigest(s string) (digest.Digest, bool) {
	d := digest.Digest(s)
	return d, layerDigestPattern.MatchString(s) && d.Validate() == nil
}

func (s *service) batchCheckLayerAvailability(ctx context.Context, in *ecr.BatchCheckLayerAvailabilityInput) (*ecr.BatchCheckLayerAvailabilityOutput, error) {
	if len(in.LayerDigests) == 0 {
		return nil, missing("layerDigests")
	}
	if len(in.LayerDigests) > maxBatch {
		return nil, invalidParameter("Invalid parameter at 'layerDigests' failed to satisfy constraint: 'Member must have length less than or equal to %d'", maxBatch)
	}
	t, err := s.repository(ctx, "ecr:BatchCheckLayerAvailability", in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	out := &ecr.BatchCheckLayerAvailabilityOutput{Layers: []types.Layer{}, Failures: []types.LayerFailure{}}
	for _, ld := range in.LayerDigests {
		d, ok := parseLayerDigest(ld)
		if !ok {
			out.Failures = append(out.Failures, types.LayerFailure{LayerDigest: aws.String(ld), FailureCode: types.LayerFailureCodeInvalidLayerDigest,
				FailureReason: aws.String("Invalid layer digest")})
			continue
		}
		size, err := s.Store.StatBlob(ctx, t.repo.ID, d)
		if errors.Is(err, store.ErrBlobNotFound) {
			out.Failures = append(out.Failures, types.LayerFailure{LayerDigest: aws.String(ld), FailureCode: types.LayerFailureCodeMissingLayerDigest,
				FailureReason: aws.String("Could not find layer digest")})
			continue
		}
		if err != nil {
			return nil, err
		}
		out.Layers = append(out.Layers, types.Layer{LayerDigest: aws.String(ld), LayerAvailability: types.LayerAvailabilityAvailable, LayerSize: aws.Int64(size)})
	}
	return out, nil
}

func (s *service) getDownloadURLForLayer(ctx context.Context, in *ecr.GetDownloadUrlForLayerInput) (*ecr.GetDownloadUrlForLayerOutput, error) {
	if in.LayerDigest == nil {
		return nil, missing("layerDigest")
	}
	d, ok := parseLayerDigest(*in.LayerDigest)
	if !ok {
		return nil, invalidParameter("Invalid parameter at 'layerDigest' failed to satisfy constraint: 'must satisfy regular expression '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+''")
	}
	t, err := s.repository(ctx, "ecr:GetDownloadUrlForLayer", in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if _, err := s.Store.StatBlob(ctx, t.repo.ID, d); errors.Is(err, store.ErrBlobNotFound) {
		return nil, layersNotFound("The layer with digest '%s' does not exist in the repository with name '%s' in the registry with id '%s'", d, t.repo.Name, t.account)
	} else if err != nil {
		return nil, err
	}
	return &ecr.GetDownloadUrlForLayerOutput{DownloadUrl: aws.String(s.downloadURL(t.account, t.repo.Name, d.String())), LayerDigest: in.LayerDigest}, nil
}

func (s *service) initiateLayerUpload(ctx context.Context, in *ecr.InitiateLayerUploadInput) (*ecr.InitiateLayerUploadOutput, error) {
	t, err := s.repository(ctx, "ecr:InitiateLayerUpload", in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	up, err := s.Blobs.StartUpload(ctx, "")
	if err != nil {
		return nil, err
	}
	id := up.ID()
	if err := up.Close(); err != nil {
		return nil, err
	}
	if err := s.Store.CreateUpload(ctx, store.Upload{ID: id, RepositoryID: t.repo.ID, StartedAt: s.Now()}); err != nil {
		if up, rerr := s.Blobs.ResumeUpload(ctx, id, ""); rerr == nil {
			_ = up.Cancel(context.WithoutCancel(ctx))
		}
		return nil, err
	}
	return &ecr.InitiateLayerUploadOutput{UploadId: aws.String(id), PartSize: aws.Int64(layerPartSize)}, nil
}

// session finds an upload of the target repository, locked, with its bytes open. A session
// that the registry route started (its bytes alone, bound to the repository) is recorded in
// the metadata store when the ECR API first continues it, to count its parts.
func (s *service) session(ctx context.Context, t target, uploadID *string) (store.Upload, blob.Upload, func(), error) {
	if uploadID == nil || *uploadID == "" {
		return store.Upload{}, nil, nil, missing("uploadId")
	}
	id := *uploadID
	notFound := uploadNotFound(id, t.repo.Name, t.account)
	owner := store.UploadOwner(t.repo.ID)
	unlock := s.uploads.lock(id)
	u, err := s.Store.GetUpload(ctx, id)
	if errors.Is(err, store.ErrUploadNotFound) {
		up, rerr := s.Blobs.ResumeUpload(ctx, id, owner)
		if rerr != nil {
			unlock()
			if errors.Is(rerr, blob.ErrUploadUnknown) {
				return store.Upload{}, nil, nil, notFound
			}
			return store.Upload{}, nil, nil, rerr
		}
		u = store.Upload{ID: id, RepositoryID: t.repo.ID, StartedAt: s.Now()}
		if err := s.Store.CreateUpload(ctx, u); err != nil {
			up.Close()
			unlock()
			return store.Upload{}, nil, nil, err
		}
		return u, up, unlock, nil
	}
	if err == nil && u.RepositoryID != t.repo.ID {
		unlock()
		return store.Upload{}, nil, nil, notFound
	}
	if err != nil {
		unlock()
		return store.Upload{}, nil, nil, err
	}
	up, err := s.Blobs.ResumeUpload(ctx, id, "")
	if errors.Is(err, blob.ErrUploadUnknown) {
		up, err = s.Blobs.ResumeUpload(ctx, id, owner) // begun on the registry route
	}
	if errors.Is(err, blob.ErrUploadUnknown) {
		_ = s.Store.DeleteUpload(context.WithoutCancel(ctx), id)
		unlock()
		return store.Upload{}, nil, nil, notFound
	}
	if err != nil {
		unlock()
		return store.Upload{}, nil, nil, err
	}
	return u, up, unlock, nil
}

func (s *service) uploadLayerPart(ctx context.Context, in *ecr.UploadLayerPartInput) (*ecr.UploadLayerPartOutput, error) {
	switch {
	case in.PartFirstByte == nil:
		return nil, missing("partFirstByte")
	case in.PartLastByte == nil:
		return nil, missing("partLastByte")
	case in.LayerPartBlob == nil:
		return nil, missing("layerPartBlob")
	case len(in.LayerPartBlob) > maxLayerPartSize:
		return nil, invalidParameter("Invalid parameter at 'layerPartBlob' failed to satisfy constraint: 'Member must have length less than or equal to %d'", maxLayerPartSize)
	}
	t, err := s.repository(ctx, "ecr:UploadLayerPart", in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	u, up, unlock, err := s.session(ctx, t, in.UploadId)
	if err != nil {
		return nil, err
	}
	defer unlock()
	defer up.Close()
	if u.Parts >= int64(s.Quotas.LayerParts) {
		return nil, limitExceeded()
	}
	first, last := *in.PartFirstByte, *in.PartLastByte
	received := up.Size()
	if first != received || last < first || last-first+1 != int64(len(in.LayerPartBlob)) {
		return nil, invalidLayerPart(t, *in.UploadId, received-1, first, last)
	}
	if _, err := up.Write(in.LayerPartBlob); err != nil {
		return nil, err
	}
	if err := s.Store.NoteUploadPart(ctx, *in.UploadId, int64(len(in.LayerPartBlob)), minLayerPartSize); err != nil {
		return nil, err
	}
	return &ecr.UploadLayerPartOutput{RegistryId: aws.String(t.account), RepositoryName: aws.String(t.repo.Name),
		UploadId: in.UploadId, LastByteReceived: aws.Int64(up.Size() - 1)}, nil
}

func invalidLayerPart(t target, uploadID string, lastValid, first, last int64) error {
	e := &types.InvalidLayerPartException{
		Message: aws.String(fmt.Sprintf("The layer part with first byte %d and last byte %d is not valid for upload '%s': parts must be contiguous. Last valid byte received: %d",
			first, last, uploadID, lastValid)),
		RegistryId: aws.String(t.account), RepositoryName: aws.String(t.repo.Name), UploadId: aws.String(uploadID),
		LastValidByteReceived: aws.Int64(lastValid),
	}
	return e
}

func (s *service) completeLayerUpload(ctx context.Context, in *ecr.CompleteLayerUploadInput) (*ecr.CompleteLayerUploadOutput, error) {
	if len(in.LayerDigests) == 0 {
		return nil, missing("layerDigests")
	}
	if len(in.LayerDigests) > 1 {
		return nil, invalidParameter("Invalid parameter at 'layerDigests' failed to satisfy constraint: 'Member must have length less than or equal to 1'")
	}
	d, ok := parseLayerDigest(in.LayerDigests[0])
	if !ok {
		return nil, invalidParameter("Invalid parameter at 'layerDigests' failed to satisfy constraint: 'must satisfy regular expression '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+''")
	}
	t, err := s.repository(ctx, "ecr:CompleteLayerUpload", in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	u, up, unlock, err := s.session(ctx, t, in.UploadId)
	if err != nil {
		return nil, err
	}
	defer unlock()
	id := *in.UploadId
	end := func() { // the session is over whatever the outcome
		_ = up.Cancel(context.WithoutCancel(ctx))
		_ = s.Store.DeleteUpload(context.WithoutCancel(ctx), id)
	}
	switch {
	case up.Size() == 0:
		end()
		return nil, ecrError("EmptyUploadException", "The upload with id '%s' does not contain any layer parts", id)
	case u.ShortPart:
		end()
		return nil, ecrError("LayerPartTooSmallException", "Layer parts must be at least 5 MiB in size.")
	}
	if _, err := s.Store.StatBlob(ctx, t.repo.ID, d); err == nil {
		end()
		return nil, ecrError("LayerAlreadyExistsException", "The layer with digest '%s' already exists in the repository with name '%s' in the registry with id '%s'",
			d, t.repo.Name, t.account)
	}
	cctx := context.WithoutCancel(ctx)
	size, err := up.Commit(cctx, d)
	if errors.Is(err, blob.ErrDigestMismatch) || errors.Is(err, blob.ErrUnsupported) {
		_ = s.Store.DeleteUpload(cctx, id)
		return nil, ecrError("InvalidLayerException", "The calculated digest of the layer does not match the provided digest '%s'", d)
	}
	if err != nil {
		return nil, err
	}
	if err := s.Store.LinkUploadedBlob(cctx, t.repo.ID, d, size, id); err != nil {
		_ = s.Store.QueueBlobForReview(cctx, d, orphanReviewDelay)
		return nil, err
	}
	return &ecr.CompleteLayerUploadOutput{RegistryId: aws.String(t.account), RepositoryName: aws.String(t.repo.Name),
		UploadId: in.UploadId, LayerDigest: aws.String(d.String())}, nil
}
