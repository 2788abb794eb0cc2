package authz

// CachedDecisions is how many decisions the current generation's cache holds.
func CachedDecisions(a *PolicyAuthorizer) int64 {
	if gc := a.cache.Load(); gc != nil {
		return gc.decisions.Load()
	}
	return 0
}
