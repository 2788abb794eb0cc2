package registry

import (
	"net/http"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/coffer-registry/coffer/store"
)

// operation is one thing a /v2/ request asks for.
type operation uint8

const (
	opPing operation = iota + 1
	opCatalog
	opManifestGet
	opManifestHead
	opManifestPut
	opManifestDelete
	opBlobGet
	opBlobHead
	opBlobDelete
	opUploadStart
	opUploadStatus
	opUploadChunk
	opUploadComplete
	opUploadCancel
	opTagsList
	opReferrers
	opCount // number of operations + 1; keep last
)

var operationNames = [opCount]string{
	opPing: "ping", opCatalog: "catalog",
	opManifestGet: "manifest get", opManifestHead: "manifest head",
	opManifestPut: "manifest put", opManifestDelete: "manifest delete",
	opBlobGet: "blob get", opBlobHead: "blob head", opBlobDelete: "blob delete",
	opUploadStart: "upload start", opUploadStatus: "upload status", opUploadChunk: "upload chunk",
	opUploadComplete: "upload complete", opUploadCancel: "upload cancel",
	opTagsList: "tags list", opReferrers: "referrers",
}

func (o operation) String() string {
	if o == 0 || o >= opCount {
		return "unknown"
	}
	return operationNames[o]
}

// route is what a request is about, decided once from its method and path. Nothing after
// routing looks at the URL path again.
type route struct {
	op      operation
	account string        // 12-digit owner of the repository; empty for ping and catalog
	name    string        // ECR repository name, e.g. "team/app"
	tag     string        // manifest reference when it is a tag
	digest  digest.Digest // manifest reference when it is a digest, blob or referrers subject
	upload  string        // upload session id
	// repo is the repository when it was read before authorization (see loadForAccess).
	repo *store.Repository
}

// repository is the canonical ACCOUNT/NAME form used in responses and in _catalog.
func (rt route) repository() string { return rt.account + "/" + rt.name }

// reference is the manifest reference as the client gave it.
func (rt route) reference() string {
	if rt.digest != "" {
		return rt.digest.String()
	}
	return rt.tag
}

// resource kinds found at the end of a repository path.
type resource uint8

const (
	resManifest resource = iota + 1
	resBlob
	resUploads // POST .../blobs/uploads/
	resUpload  // .../blobs/uploads/<id>
	resTags
	resReferrers
)

// methods lists, per resource, which method means which operation.
var methods = map[resource]map[string]operation{
	resManifest: {
		http.MethodGet: opManifestGet, http.MethodHead: opManifestHead,
		http.MethodPut: opManifestPut, http.MethodDelete: opManifestDelete,
	},
	resBlob: {
		http.MethodGet: opBlobGet, http.MethodHead: opBlobHead, http.MethodDelete: opBlobDelete,
	},
	resUploads: {http.MethodPost: opUploadStart},
	resUpload: {
		http.MethodGet: opUploadStatus, http.MethodPatch: opUploadChunk,
		http.MethodPut: opUploadComplete, http.MethodDelete: opUploadCancel,
	},
	resTags:      {http.MethodGet: opTagsList, http.MethodHead: opTagsList},
	resReferrers: {http.MethodGet: opReferrers, http.MethodHead: opReferrers},
}

// parseRoute decides the operation and its parameters. Paths are
// /v2/, /v2/_catalog and /v2/ACCOUNT/NAME/{manifests/REF, blobs/DIGEST, blobs/uploads/[ID],
// tags/list, referrers/DIGEST}; NAME may itself contain slashes, so the kind of resource is
// read from the end of the path.
func parseRoute(method, path string) (route, *Error) {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		if path == "/v2" {
			rest, ok = "", true
		} else {
			return route{}, notFound(path)
		}
	}
	switch rest {
	case "":
		return pick(method, map[string]operation{http.MethodGet: opPing, http.MethodHead: opPing}, route{})
	case "_catalog":
		return pick(method, map[string]operation{http.MethodGet: opCatalog}, route{})
	}

	segs := strings.Split(rest, "/")
	n := len(segs)
	var (
		kind    resource
		repoEnd int // segs[:repoEnd] is ACCOUNT/NAME
		last    = segs[n-1]
	)
	switch {
	case n >= 3 && segs[n-2] == "tags" && last == "list":
		kind, repoEnd = resTags, n-2
	case n >= 4 && segs[n-3] == "blobs" && segs[n-2] == "uploads":
		kind, repoEnd = resUpload, n-3
		if last == "" {
			kind = resUploads
		}
	case n >= 3 && segs[n-2] == "blobs" && last == "uploads":
		kind, repoEnd = resUploads, n-2
	case n >= 3 && segs[n-2] == "manifests":
		kind, repoEnd = resManifest, n-2
	case n >= 3 && segs[n-2] == "blobs":
		kind, repoEnd = resBlob, n-2
	case n >= 3 && segs[n-2] == "referrers":
		kind, repoEnd = resReferrers, n-2
	default:
		return route{}, notFound(path)
	}

	rt, err := pick(method, methods[kind], route{})
	if err != nil {
		return route{}, err
	}
	rt.account = segs[0]
	rt.name = strings.Join(segs[1:repoEnd], "/")
	if !validAccount(rt.account) {
		return route{}, newError(CodeNameInvalid, http.StatusBadRequest,
			"invalid repository path %q: the first segment must be the 12-digit account id (HOST/ACCOUNT/NAME)", strings.Join(segs[:repoEnd], "/"))
	}
	if !validRepositoryName(rt.name) {
		return route{}, newError(CodeNameInvalid, http.StatusBadRequest,
			"invalid repository name %q: 2-256 characters of ECR's repository name grammar", rt.name).
			withDetail(map[string]string{"name": rt.name})
	}

	switch kind {
	case resManifest:
		if strings.Contains(last, ":") {
			d, ok := parseDigest(last)
			if !ok {
				return route{}, newError(CodeDigestInvalid, http.StatusBadRequest, "invalid digest %q", last)
			}
			rt.digest = d
		} else if validTag(last) {
			rt.tag = last
		} else {
			return route{}, newError(CodeManifestInvalid, http.StatusBadRequest, "invalid tag %q", last)
		}
	case resBlob, resReferrers:
		d, ok := parseDigest(last)
		if !ok {
			return route{}, newError(CodeDigestInvalid, http.StatusBadRequest, "invalid digest %q", last)
		}
		rt.digest = d
	case resUpload:
		if !validUploadID(last) {
			return route{}, newError(CodeBlobUploadUnknown, http.StatusNotFound, "upload unknown")
		}
		rt.upload = last
	}
	return rt, nil
}

func pick(method string, ops map[string]operation, rt route) (route, *Error) {
	op, ok := ops[method]
	if !ok {
		allowed := make([]string, 0, len(ops))
		for m := range ops {
			allowed = append(allowed, m)
		}
		slices.Sort(allowed)
		return route{}, newError(CodeUnsupported, http.StatusMethodNotAllowed, "method %s is not supported here", method).
			withHeader("Allow", strings.Join(allowed, ", "))
	}
	rt.op = op
	return rt, nil
}

func notFound(path string) *Error {
	return newError(CodeUnsupported, http.StatusNotFound, "no registry API at %q", path)
}
