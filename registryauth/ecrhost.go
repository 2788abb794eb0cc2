package registryauth

import (
	"net"
	"net/http"
	"regexp"
	"strings"
)

// ecrHost matches ECR's registry host names: ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com
// (and the .cn and dual-stack forms) that docker-credential-ecr-login acts for.
var ecrHost = regexp.MustCompile(`^([0-9]{12})\.dkr[.-]ecr(?:-fips)?\.[a-z0-9][a-z0-9-]*\.(?:amazonaws\.com(?:\.cn)?|amazonaws\.eu|on\.aws|on\.amazonwebservices\.com\.cn)$`)

// ECRHostAccount returns the account of an ECR-style registry host (any port), or "".
func ECRHostAccount(host string) string {
	if len(host) < 13 || host[12] != '.' || !allDigits(host[:12]) {
		return "" // the cheap test every other host fails
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	m := ecrHost.FindStringSubmatch(strings.ToLower(strings.TrimSuffix(host, ".")))
	if m == nil {
		return ""
	}
	return m[1]
}

// ECRHost lets Coffer answer for ECR's own registry host names: on a request whose Host is
// ACCOUNT.dkr.ecr.REGION.amazonaws.com[:port], /v2/NAME/... means /v2/ACCOUNT/NAME/... The
// path is rewritten once, before routing; /v2/, /v2/_catalog and paths already naming the
// host's account (Location headers Coffer sent) stay as they are, and the canonical
// HOST/ACCOUNT/NAME form is untouched. A repository name that itself begins with the host's
// account id is therefore reachable on such a host only by its canonical path.
func ECRHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if account := ECRHostAccount(r.Host); account != "" {
			if p, ok := rewrite(r.URL.Path, account); ok {
				r2 := new(http.Request)
				*r2 = *r
				u := *r.URL
				u.Path, u.RawPath = p, ""
				r2.URL = &u
				r = r2
			}
		}
		next.ServeHTTP(w, r)
	})
}

func rewrite(path, account string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok || rest == "" || rest == "_catalog" || strings.HasPrefix(rest, account+"/") {
		return "", false
	}
	return "/v2/" + account + "/" + rest, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
