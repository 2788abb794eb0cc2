package ecrapi

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/policy"
	"github.com/coffer-registry/coffer/store"
)

func (s *service) repositoryShape(r store.Repository) types.Repository {
	out := types.Repository{
		RepositoryArn:              aws.String(s.repositoryARN(r.Account, r.Name)),
		RegistryId:                 aws.String(r.Account),
		RepositoryName:             aws.String(r.Name),
		RepositoryUri:              aws.String(s.repositoryURI(r.Account, r.Name)),
		CreatedAt:                  aws.Time(r.CreatedAt),
		ImageTagMutability:         types.ImageTagMutability(mutabilityOf(r.Settings)),
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: r.Settings.ScanOnPush},
		EncryptionConfiguration:    encryptionShape(r.Settings),
	}
	out.ImageTagMutabilityExclusionFilters = exclusionShape(r.Settings.TagMutabilityExclusions)
	return out
}

func mutabilityOf(st store.RepositorySettings) string {
	if st.TagMutability == "" {
		return string(types.ImageTagMutabilityMutable)
	}
	return st.TagMutability
}

func encryptionShape(st store.RepositorySettings) *types.EncryptionConfiguration {
	enc := &types.EncryptionConfiguration{EncryptionType: types.EncryptionType(st.EncryptionType)}
	if enc.EncryptionType == "" {
		enc.EncryptionType = types.EncryptionTypeAes256
	}
	if st.KMSKey != "" {
		enc.KmsKey = aws.String(st.KMSKey)
	}
	return enc
}

func exclusionShape(filters []string) []types.ImageTagMutabilityExclusionFilter {
	if len(filters) == 0 {
		return nil
	}
	out := make([]types.ImageTagMutabilityExclusionFilter, len(filters))
	for i, f := range filters {
		out[i] = types.ImageTagMutabilityExclusionFilter{Filter: aws.String(f), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard}
	}
	return out
}

// tagMutability validates a mutability setting and its exclusion filters.
func tagMutability(m types.ImageTagMutability, filters []types.ImageTagMutabilityExclusionFilter) (string, []string, error) {
	mode := string(m)
	if mode == "" {
		mode = string(types.ImageTagMutabilityMutable)
	}
	if !slices.Contains(types.ImageTagMutability("").Values(), types.ImageTagMutability(mode)) {
		return "", nil, invalidParameter("Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'Member must satisfy enum value set: [MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]'")
	}
	withExclusion := strings.HasSuffix(mode, "_WITH_EXCLUSION")
	switch {
	case withExclusion && len(filters) == 0:
		return "", nil, invalidParameter("ImageTagMutabilityExclusionFilters can't be null when imageTagMutability is set as %s", mode)
	case !withExclusion && len(filters) > 0:
		return "", nil, invalidParameter("ImageTagMutabilityExclusionFilters must be null when imageTagMutability is set as %s", mode)
	case len(filters) > maxExclusionFilter:
		return "", nil, invalidParameter("Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: 'Member must have length less than or equal to %d'", maxExclusionFilter)
	}
	var out []string
	for _, f := range filters {
		value := aws.ToString(f.Filter)
		if f.FilterType != types.ImageTagMutabilityExclusionFilterTypeWildcard {
			return "", nil, invalidParameter("Invalid parameter at 'filterType' failed to satisfy constraint: 'Member must satisfy enum value set: [WILDCARD]'")
		}
		if !exclusionFilterValue.MatchString(value) {
			return "", nil, invalidParameter("Invalid parameter at 'filter' failed to satisfy constraint: 'Member must satisfy regular expression pattern: ^[0-9a-zA-Z._*-]{1,128}$'")
		}
		out = append(out, value)
	}
	return mode, out, nil
}

// tagMap validates a list of resource tags and returns it as a map (a later key wins).
func tagMap(tags []types.Tag) (map[string]string, error) {
	keys := make([]string, len(tags))
	values := make([]string, len(tags))
	for i, t := range tags {
		if t.Key == nil {
			return nil, invalidTagParameter("Invalid parameter at 'tags.%d.member.key' failed to satisfy constraint: 'Member must not be null'", i+1)
		}
		keys[i], values[i] = *t.Key, aws.ToString(t.Value)
	}
	if err := checkTags(keys, values); err != nil {
		return nil, err
	}
	m := make(map[string]string, len(tags))
	for i := range keys {
		m[keys[i]] = values[i]
	}
	return m, nil
}

func (s *service) registryPolicy(ctx context.Context, account string) (*policy.Policy, error) {
	text, err := s.Store.RegistryPolicy(ctx, account)
	if errors.Is(err, store.ErrPolicyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.policies.compile(text, policy.KindRegistry)
}

func (s *service) createRepository(ctx context.Context, in *ecr.CreateRepositoryInput) (*ecr.CreateRepositoryOutput, error) {
	account, err := registryOf(ctx, in.RegistryId)
	if err != nil {
		return nil, err
	}
	if in.RepositoryName == nil {
		return nil, missing("repositoryName")
	}
	name := *in.RepositoryName
	if err := checkRepositoryName(name); err != nil {
		return nil, err
	}
	mode, filters, err := tagMutability(in.ImageTagMutability, in.ImageTagMutabilityExclusionFilters)
	if err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	settings := store.RepositorySettings{TagMutability: mode, TagMutabilityExclusions: filters, EncryptionType: string(types.EncryptionTypeAes256)}
	if in.ImageScanningConfiguration != nil {
		settings.ScanOnPush = in.ImageScanningConfiguration.ScanOnPush
	}
	if enc := in.EncryptionConfiguration; enc != nil {
		if !slices.Contains(types.EncryptionType("").Values(), enc.EncryptionType) {
			return nil, invalidParameter("Invalid parameter at 'encryptionType' failed to satisfy constraint: 'Member must satisfy enum value set: [AES256, KMS, KMS_DSSE]'")
		}
		if enc.EncryptionType == types.EncryptionTypeAes256 && enc.KmsKey != nil {
			return nil, invalidParameter("Invalid parameter at 'kmsKey' failed to satisfy constraint: 'KMS key should not be specified when encryption type is AES256'")
		}
		settings.EncryptionType, settings.KMSKey = string(enc.EncryptionType), aws.ToString(enc.KmsKey)
	}
	registryPolicy, err := s.registryPolicy(ctx, account)
	if err != nil {
		return nil, err
	}
	arn := s.repositoryARN(account, name)
	if err := s.Authorizer.Authorize(ctx, authz.Check{Action: "ecr:CreateRepository", Resource: arn, ResourceAccount: account,
		RegistryPolicy: registryPolicy, Keys: requestTagKeys(tags)}); err != nil {
		return nil, err
	}
	if len(tags) > 0 {
		if err := s.Authorizer.Authorize(ctx, authz.Check{Action: "ecr:TagResource", Resource: arn, ResourceAccount: account,
			RegistryPolicy: registryPolicy, Keys: requestTagKeys(tags)}); err != nil {
			return nil, err
		}
	}
	if len(tags) > maxRepositoryTags {
		return nil, tooManyTags()
	}
	if n, err := s.Store.CountRepositories(ctx, account); err != nil {
		return nil, err
	} else if n >= s.Quotas.Repositories {
		return nil, limitExceeded()
	}
	repo, err := s.Store.CreateRepositoryWith(ctx, store.Repository{Account: account, Name: name, Settings: settings, Tags: tags})
	if errors.Is(err, store.ErrRepositoryExists) {
		return nil, repositoryAlreadyExists(name, account)
	}
	if err != nil {
		return nil, err
	}
	shape := s.repositoryShape(repo)
	return &ecr.CreateRepositoryOutput{Repository: &shape}, nil
}

func (s *service) describeRepositories(ctx context.Context, in *ecr.DescribeRepositoriesInput) (*ecr.DescribeRepositoriesOutput, error) {
	if len(in.RepositoryNames) > 0 {
		if in.MaxResults != nil || in.NextToken != nil {
			return nil, invalidParameter("Invalid parameter at 'maxResults' failed to satisfy constraint: 'maxResults and nextToken cannot be used with repositoryNames'")
		}
		if len(in.RepositoryNames) > maxBatch {
			return nil, invalidParameter("Invalid parameter at 'repositoryNames' failed to satisfy constraint: 'Member must have length less than or equal to %d'", maxBatch)
		}
		out := &ecr.DescribeRepositoriesOutput{Repositories: []types.Repository{}}
		for _, name := range in.RepositoryNames {
			t, err := s.repository(ctx, "ecr:DescribeRepositories", in.RegistryId, &name)
			if err != nil {
				return nil, err
			}
			out.Repositories = append(out.Repositories, s.repositoryShape(t.repo))
		}
		return out, nil
	}
	account, err := registryOf(ctx, in.RegistryId)
	if err != nil {
		return nil, err
	}
	limit, err := pageSize(in.MaxResults, maxPageSize)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken(in.NextToken)
	if err != nil {
		return nil, err
	}
	// Listing every repository is authorized on all of them: repository/*.
	registryPolicy, err := s.registryPolicy(ctx, account)
	if err != nil {
		return nil, err
	}
	if err := s.Authorizer.Authorize(ctx, authz.Check{Action: "ecr:DescribeRepositories", Resource: s.repositoryARN(account, "*"),
		ResourceAccount: account, RegistryPolicy: registryPolicy}); err != nil {
		return nil, err
	}
	repos, err := s.Store.ListRepositories(ctx, account, after, limit+1)
	if err != nil {
		return nil, err
	}
	out := &ecr.DescribeRepositoriesOutput{Repositories: []types.Repository{}}
	for i, r := range repos {
		if r.Account != account {
			break
		}
		if i == limit {
			out.NextToken = encodeToken(repos[i-1].Name)
			break
		}
		out.Repositories = append(out.Repositories, s.repositoryShape(r))
	}
	return out, nil
}

// Pagination tokens are opaque to clients: the position to continue after, in base64.
func encodeToken(after string) *string {
	return aws.String(base64.RawURLEncoding.EncodeToString([]byte("v1:" + after)))
}

func decodeToken(token *string) (string, error) {
	if token == nil || *token == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*token)
	if err != nil || !strings.HasPrefix(string(b), "v1:") {
		return "", invalidParameter("Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid token'")
	}
	return strings.TrimPrefix(string(b), "v1:"), nil
}

func (s *service) deleteRepository(ctx context.Context, in *ecr.DeleteRepositoryInput) (*ecr.DeleteRepositoryOutput, error) {
	t, err := s.repository(ctx, "ecr:DeleteRepository", in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	err = s.Store.DeleteRepository(ctx, t.account, t.repo.Name, in.Force)
	switch {
	case errors.Is(err, store.ErrRepositoryNotEmpty):
		return nil, repositoryNotEmpty(t.repo.Name, t.account)
	case errors.Is(err, store.ErrRepositoryNotFound):
		return nil, repositoryNotFound(t.repo.Name, t.account)
	case err != nil:
		return nil, err
	}
	shape := s.repositoryShape(t.repo)
	return &ecr.DeleteRepositoryOutput{Repository: &shape}, nil
}

// update changes a repository in one store transaction, mapping a vanished repository.
func (s *service) update(ctx context.Context, t target, fn func(r *store.Repository) error) (store.Repository, error) {
	r, err := s.Store.UpdateRepository(ctx, t.repo.ID, fn)
	if errors.Is(err, store.ErrRepositoryNotFound) {
		return store.Repository{}, repositoryNotFound(t.repo.Name, t.account)
	}
	return r, err
}

func (s *service) putImageTagMutability(ctx context.Context, in *ecr.PutImageTagMutabilityInput) (*ecr.PutImageTagMutabilityOutput, error) {
	if in.ImageTagMutability == "" {
		return nil, missing("imageTagMutability")
	}
	mode, filters, err := tagMutability(in.ImageTagMutability, in.ImageTagMutabilityExclusionFilters)
	if err != nil {
		return nil, err
	}
	t, err := s.repository(ctx, "ecr:PutImageTagMutability", in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	r, err := s.update(ctx, t, func(r *store.Repository) error {
		r.Settings.TagMutability, r.Settings.TagMutabilityExclusions = mode, filters
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecr.PutImageTagMutabilityOutput{RegistryId: aws.String(r.Account), RepositoryName: aws.String(r.Name),
		ImageTagMutability: types.ImageTagMutability(mutabilityOf(r.Settings)), ImageTagMutabilityExclusionFilters: exclusionShape(r.Settings.TagMutabilityExclusions)}, nil
}

func (s *service) putImageScanningConfiguration(ctx context.Context, in *ecr.PutImageScanningConfigurationInput) (*ecr.PutImageScanningConfigurationOutput, error) {
	if in.ImageScanningConfiguration == nil {
		return nil, missing("imageScanningConfiguration")
	}
	t, err := s.repository(ctx, "ecr:PutImageScanningConfiguration", in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	r, err := s.update(ctx, t, func(r *store.Repository) error {
		r.Settings.ScanOnPush = in.ImageScanningConfiguration.ScanOnPush
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecr.PutImageScanningConfigurationOutput{RegistryId: aws.String(r.Account), RepositoryName: aws.String(r.Name),
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: r.Settings.ScanOnPush}}, nil
}

// resource resolves a repository ARN (TagResource and friends) and authorizes action on it.
func (s *service) resource(ctx context.Context, action string, arn *string, keys ...authz.Key) (target, error) {
	if arn == nil {
		return target{}, missing("resourceArn")
	}
	parts := strings.SplitN(*arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "ecr" || !isAccountID(parts[4]) || !strings.HasPrefix(parts[5], "repository/") {
		return target{}, invalidParameter("Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'")
	}
	account, name := parts[4], strings.TrimPrefix(parts[5], "repository/")
	return s.repository(ctx, action, &account, &name, keys...)
}

func (s *service) tagResource(ctx context.Context, in *ecr.TagResourceInput) (*ecr.TagResourceOutput, error) {
	if in.Tags == nil {
		return nil, missing("tags")
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	t, err := s.resource(ctx, "ecr:TagResource", in.ResourceArn, requestTagKeys(tags)...)
	if err != nil {
		return nil, err
	}
	_, err = s.update(ctx, t, func(r *store.Repository) error {
		merged := make(map[string]string, len(r.Tags)+len(tags))
		for k, v := range r.Tags {
			merged[k] = v
		}
		for k, v := range tags {
			merged[k] = v
		}
		if len(merged) > maxRepositoryTags {
			return tooManyTags()
		}
		r.Tags = merged
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecr.TagResourceOutput{}, nil
}

func (s *service) untagResource(ctx context.Context, in *ecr.UntagResourceInput) (*ecr.UntagResourceOutput, error) {
	if in.TagKeys == nil {
		return nil, missing("tagKeys")
	}
	if err := checkTags(in.TagKeys, nil); err != nil {
		return nil, err
	}
	t, err := s.resource(ctx, "ecr:UntagResource", in.ResourceArn,
		authz.Key{Name: "aws:TagKeys", Type: policy.TypeStringList, Values: in.TagKeys})
	if err != nil {
		return nil, err
	}
	_, err = s.update(ctx, t, func(r *store.Repository) error {
		for _, k := range in.TagKeys {
			delete(r.Tags, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecr.UntagResourceOutput{}, nil
}

func (s *service) listTagsForResource(ctx context.Context, in *ecr.ListTagsForResourceInput) (*ecr.ListTagsForResourceOutput, error) {
	t, err := s.resource(ctx, "ecr:ListTagsForResource", in.ResourceArn)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(t.repo.Tags))
	for k := range t.repo.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := &ecr.ListTagsForResourceOutput{Tags: []types.Tag{}}
	for _, k := range keys {
		out.Tags = append(out.Tags, types.Tag{Key: aws.String(k), Value: aws.String(t.repo.Tags[k])})
	}
	return out, nil
}

// checkPolicyText validates a repository or registry policy as ECR does.
func checkPolicyText(text *string, kind policy.Kind) (string, error) {
	if text == nil {
		return "", missing("policyText")
	}
	if len(*text) > maxPolicyLength {
		return "", invalidParameter("Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Member must have length less than or equal to %d'", maxPolicyLength)
	}
	what := "repository"
	if kind == policy.KindRegistry {
		what = "registry"
	}
	if _, err := policy.Parse([]byte(*text), kind); err != nil {
		return "", invalidParameter("Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid %s policy provided'", what)
	}
	return *text, nil
}

func (s *service) setRepositoryPolicy(ctx context.Context, in *ecr.SetRepositoryPolicyInput) (*ecr.SetRepositoryPolicyOutput, error) {
	text, err := checkPolicyText(in.PolicyText, policy.KindRepository)
	if err != nil {
		return nil, err
	}
	t, err := s.repository(ctx, "ecr:SetRepositoryPolicy", in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if !in.Force {
		// A policy that would deny the caller the next SetRepositoryPolicy needs force.
		next, err := s.policies.compile(text, policy.KindRepository)
		if err != nil {
			return nil, err
		}
		err = s.Authorizer.Authorize(ctx, authz.Check{Action: "ecr:SetRepositoryPolicy", Resource: s.repositoryARN(t.account, t.repo.Name),
			ResourceAccount: t.account, ResourcePolicy: next, Keys: resourceTagKeys(t.repo.Tags)})
		var denied *authz.AccessDeniedError
		if errors.As(err, &denied) {
			return nil, invalidParameter("Invalid parameter at 'PolicyText' failed to satisfy constraint: 'The repository policy would prevent you from setting another policy in the future; use force to set it anyway'")
		}
		if err != nil {
			return nil, err
		}
	}
	r, err := s.update(ctx, t, func(r *store.Repository) error {
		r.Policy = text
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecr.SetRepositoryPolicyOutput{RegistryId: aws.String(r.Account), RepositoryName: aws.String(r.Name), PolicyText: aws.String(r.Policy)}, nil
}

func (s *service) getRepositoryPolicy(ctx context.Context, in *ecr.GetRepositoryPolicyInput) (*ecr.GetRepositoryPolicyOutput, error) {
	t, err := s.repository(ctx, "ecr:GetRepositoryPolicy", in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if t.repo.Policy == "" {
		return nil, repositoryPolicyNotFound(t.repo.Name, t.account)
	}
	return &ecr.GetRepositoryPolicyOutput{RegistryId: aws.String(t.account), RepositoryName: aws.String(t.repo.Name), PolicyText: aws.String(t.repo.Policy)}, nil
}

func (s *service) deleteRepositoryPolicy(ctx context.Context, in *ecr.DeleteRepositoryPolicyInput) (*ecr.DeleteRepositoryPolicyOutput, error) {
	t, err := s.repository(ctx, "ecr:DeleteRepositoryPolicy", in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	var old string
	_, err = s.update(ctx, t, func(r *store.Repository) error {
		if r.Policy == "" {
			return repositoryPolicyNotFound(t.repo.Name, t.account)
		}
		old, r.Policy = r.Policy, ""
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecr.DeleteRepositoryPolicyOutput{RegistryId: aws.String(t.account), RepositoryName: aws.String(t.repo.Name), PolicyText: aws.String(old)}, nil
}

func (s *service) putRegistryPolicy(ctx context.Context, in *ecr.PutRegistryPolicyInput) (*ecr.PutRegistryPolicyOutput, error) {
	text, err := checkPolicyText(in.PolicyText, policy.KindRegistry)
	if err != nil {
		return nil, err
	}
	account, err := s.registry(ctx, "ecr:PutRegistryPolicy", nil)
	if err != nil {
		return nil, err
	}
	if err := s.Store.PutRegistryPolicy(ctx, account, text); err != nil {
		return nil, err
	}
	return &ecr.PutRegistryPolicyOutput{RegistryId: aws.String(account), PolicyText: aws.String(text)}, nil
}

func (s *service) getRegistryPolicy(ctx context.Context, in *ecr.GetRegistryPolicyInput) (*ecr.GetRegistryPolicyOutput, error) {
	account, err := s.registry(ctx, "ecr:GetRegistryPolicy", nil)
	if err != nil {
		return nil, err
	}
	text, err := s.Store.RegistryPolicy(ctx, account)
	if errors.Is(err, store.ErrPolicyNotFound) {
		return nil, registryPolicyNotFound(account)
	}
	if err != nil {
		return nil, err
	}
	return &ecr.GetRegistryPolicyOutput{RegistryId: aws.String(account), PolicyText: aws.String(text)}, nil
}

func (s *service) deleteRegistryPolicy(ctx context.Context, in *ecr.DeleteRegistryPolicyInput) (*ecr.DeleteRegistryPolicyOutput, error) {
	account, err := s.registry(ctx, "ecr:DeleteRegistryPolicy", nil)
	if err != nil {
		return nil, err
	}
	text, err := s.Store.DeleteRegistryPolicy(ctx, account)
	if errors.Is(err, store.ErrPolicyNotFound) {
		return nil, registryPolicyNotFound(account)
	}
	if err != nil {
		return nil, err
	}
	return &ecr.DeleteRegistryPolicyOutput{RegistryId: aws.String(account), PolicyText: aws.String(text)}, nil
}

func (s *service) describeRegistry(ctx context.Context, in *ecr.DescribeRegistryInput) (*ecr.DescribeRegistryOutput, error) {
	account, err := s.registry(ctx, "ecr:DescribeRegistry", nil)
	if err != nil {
		return nil, err
	}
	return &ecr.DescribeRegistryOutput{RegistryId: aws.String(account),
		ReplicationConfiguration: &types.ReplicationConfiguration{Rules: []types.ReplicationRule{}}}, nil
}

func (s *service) getAuthorizationToken(ctx context.Context, in *ecr.GetAuthorizationTokenInput) (*ecr.GetAuthorizationTokenOutput, error) {
	if len(in.RegistryIds) > 10 {
		return nil, invalidParameter("Invalid parameter at 'registryIds' failed to satisfy constraint: 'Member must have length less than or equal to 10'")
	}
	for _, id := range in.RegistryIds {
		if !isAccountID(id) {
			return nil, invalidParameter("Invalid parameter at 'registryIds' failed to satisfy constraint: 'Member must satisfy regular expression pattern: [0-9]{12}'")
		}
	}
	if err := s.Authorizer.Authorize(ctx, authz.Check{Action: "ecr:GetAuthorizationToken", Resource: "*"}); err != nil {
		return nil, err
	}
	caller := auth.CallerFrom(ctx)
	token, expires, err := s.Tokens.Issue(ctx, caller)
	if err != nil {
		return nil, err
	}
	// One token serves every registry (registryIds is deprecated); ECR answers once per id,
	// each with that registry's endpoint.
	ids := in.RegistryIds
	if len(ids) == 0 {
		ids = []string{caller.Engine.Account}
	}
	out := &ecr.GetAuthorizationTokenOutput{}
	for _, id := range ids {
		out.AuthorizationData = append(out.AuthorizationData, types.AuthorizationData{
			AuthorizationToken: aws.String(base64.StdEncoding.EncodeToString([]byte("AWS:" + token))),
			ExpiresAt:          aws.Time(expires),
			ProxyEndpoint:      aws.String(s.proxyEndpoint(id)),
		})
	}
	return out, nil
}
