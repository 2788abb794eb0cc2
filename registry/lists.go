package registry

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const (
	// maxPage caps n for tags list and _catalog; more come through the Link header.
	maxPage = 1000
	// defaultCatalogPage is the _catalog page size when the client gives no n.
	defaultCatalogPage = 100
)

type tagList struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

type catalogList struct {
	Repositories []string `json:"repositories"`
}

// pageSize reads the n parameter: ok=false when absent; an error when not a number >= 0.
func pageSize(query url.Values) (n int, ok bool, err *Error) {
	s := query.Get("n")
	if s == "" {
		return 0, false, nil
	}
	n, perr := strconv.Atoi(s)
	if perr != nil || n < 0 {
		return 0, false, newError(CodeUnsupported, http.StatusBadRequest, "invalid page size n=%q", s)
	}
	return min(n, maxPage), true, nil
}

// listTags answers GET /v2/ACCOUNT/NAME/tags/list[?n=N&last=T]. Without n it returns
// every tag; with n at most n, and a Link header when more may follow.
func (h *Handler) listTags(w http.ResponseWriter, r *http.Request, rt route) error {
	query := r.URL.Query()
	n, paged, perr := pageSize(query)
	if perr != nil {
		return perr
	}
	repo, err := h.repository(r, rt, false)
	if err != nil {
		return err
	}
	last := query.Get("last")
	out := tagList{Name: rt.repository(), Tags: []string{}}
	if paged && n == 0 {
		return writeJSON(w, r, http.StatusOK, "application/json", out)
	}
	limit := 0 // all
	if paged {
		limit = n + 1 // one more tells whether a next page exists
	}
	tags, err := h.meta.ListTags(r.Context(), repo.ID, last, limit)
	if err != nil {
		return err
	}
	if paged && len(tags) > n {
		tags = tags[:n]
		w.Header().Set("Link", nextLink("/v2/"+rt.repository()+"/tags/list", n, tags[n-1]))
	}
	if tags != nil {
		out.Tags = tags
	}
	return writeJSON(w, r, http.StatusOK, "application/json", out)
}

// catalog answers GET /v2/_catalog[?n=N&last=ACCOUNT/NAME]: repositories as ACCOUNT/NAME,
// only those the caller may describe (ecr:DescribeRepositories), in pages.
func (h *Handler) catalog(w http.ResponseWriter, r *http.Request) error {
	query := r.URL.Query()
	n, paged, perr := pageSize(query)
	if perr != nil {
		return perr
	}
	if !paged {
		n = defaultCatalogPage
	}
	out := catalogList{Repositories: []string{}}
	if n == 0 {
		return writeJSON(w, r, http.StatusOK, "application/json", out)
	}
	afterAccount, afterName, _ := strings.Cut(query.Get("last"), "/")
	ctx := r.Context()
	for len(out.Repositories) <= n {
		batch, err := h.meta.ListRepositories(ctx, afterAccount, afterName, n+1)
		if err != nil {
			return err
		}
		for _, repo := range batch {
			afterAccount, afterName = repo.Account, repo.Name
			if h.allowed(r, h.accessTo(repo.Account, repo.Name, &repo, ecrActions[opCatalog])) != nil {
				continue
			}
			out.Repositories = append(out.Repositories, repo.Account+"/"+repo.Name)
			if len(out.Repositories) > n {
				break
			}
		}
		if len(batch) < n+1 {
			break
		}
	}
	if len(out.Repositories) > n {
		out.Repositories = out.Repositories[:n]
		w.Header().Set("Link", nextLink("/v2/_catalog", n, out.Repositories[n-1]))
	}
	return writeJSON(w, r, http.StatusOK, "application/json", out)
}

// nextLink is the RFC 5988 link to the page after last.
func nextLink(path string, n int, last string) string {
	q := url.Values{"n": {strconv.Itoa(n)}, "last": {last}}
	return "<" + path + "?" + q.Encode() + `>; rel="next"`
}
