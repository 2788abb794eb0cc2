package ecrapi

import (
	"fmt"
	"net/http"

	"github.com/coffer-registry/coffer/awsproto"
)

// ECR's exceptions, with the messages real ECR sends.
func ecrError(code, format string, args ...any) *awsproto.Error {
	return &awsproto.Error{Code: code, Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func repositoryNotFound(name, account string) *awsproto.Error {
	return ecrError("RepositoryNotFoundException",
		"The repository with name '%s' does not exist in the registry with id '%s'", name, account)
}

func repositoryAlreadyExists(name, account string) *awsproto.Error {
	return ecrError("RepositoryAlreadyExistsException",
		"The repository with name '%s' already exists in the registry with id '%s'", name, account)
}

func repositoryNotEmpty(name, account string) *awsproto.Error {
	return ecrError("RepositoryNotEmptyException",
		"The repository with name '%s' in registry with id '%s' cannot be deleted because it still contains images", name, account)
}

func repositoryPolicyNotFound(name, account string) *awsproto.Error {
	return ecrError("RepositoryPolicyNotFoundException",
		"Repository policy does not exist for the repository with name '%s' in the registry with id '%s'", name, account)
}

func registryPolicyNotFound(account string) *awsproto.Error {
	return ecrError("RegistryPolicyNotFoundException", "Registry policy does not exist in the registry with id '%s'", account)
}

func imageNotFound(id string, name, account string) *awsproto.Error {
	return ecrError("ImageNotFoundException",
		"The image with imageId %s does not exist within the repository with name '%s' in the registry with id '%s'", id, name, account)
}

func imageAlreadyExists(digest, tag, name, account string) *awsproto.Error {
	return ecrError("ImageAlreadyExistsException",
		"Image with digest '%s' and tag '%s' already exists in the repository with name '%s' in registry with id '%s'", digest, tag, name, account)
}

func imageTagAlreadyExists(tag, name string) *awsproto.Error {
	return ecrError("ImageTagAlreadyExistsException",
		"The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the tag is immutable.", tag, name)
}

func imageDigestDoesNotMatch(given, computed string) *awsproto.Error {
	return ecrError("ImageDigestDoesNotMatchException",
		"Provided digest %s does not match the calculated digest %s", given, computed)
}

func layersNotFound(format string, args ...any) *awsproto.Error {
	return ecrError("LayersNotFoundException", format, args...)
}

func referencedImagesNotFound(format string, args ...any) *awsproto.Error {
	return ecrError("ReferencedImagesNotFoundException", format, args...)
}

func uploadNotFound(id, name, account string) *awsproto.Error {
	return ecrError("UploadNotFoundException",
		"Upload with id '%s' is not found in the repository with name '%s' in the registry with id '%s'", id, name, account)
}

func invalidParameter(format string, args ...any) *awsproto.Error {
	return ecrError("InvalidParameterException", format, args...)
}

func invalidTagParameter(format string, args ...any) *awsproto.Error {
	return ecrError("InvalidTagParameterException", format, args...)
}

func tooManyTags() *awsproto.Error {
	return ecrError("TooManyTagsException", "A repository can have a maximum of %d tags.", maxRepositoryTags)
}

func missing(member string) *awsproto.Error {
	return awsproto.ValidationFailed(awsproto.ProtocolJSON, []awsproto.Violation{{Path: member, Constraint: "Member must not be null"}})
}

func limitExceeded() *awsproto.Error {
	return ecrError("LimitExceededException", "The operation did not succeed because it would have exceeded a service limit for your account.")
}
