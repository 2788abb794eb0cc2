package policy

import "strings"

// MatchedStatement is a statement that applied to a simulated request.
type MatchedStatement struct {
	PolicyName string
	Source     Source
	Sid        string
	Effect     Effect
	Start, End Position // span of the statement in its document
}

// Simulation is what iam:SimulateCustomPolicy reports for one action and resource.
type Simulation struct {
	Decision Decision
	// Matched lists every applicable statement, in evaluation order.
	Matched []MatchedStatement
	// MissingContextValues lists the condition keys (and policy-variable keys) used by
	// statements that match the action and resource but that the context does not hold.
	MissingContextValues []string
}

// Simulate evaluates like Evaluate and also collects the simulator's details. It allocates.
func Simulate(req *Request, set *PolicySet) Simulation {
	sim := Simulation{Decision: Evaluate(req, set)}
	r := newEvalReq(req, set)
	seen := map[string]bool{}
	visit := func(p *Policy, src Source) {
		for i := range p.stmts {
			st := &p.stmts[i]
			if p.kind.resourceBased() && st.principalGrant(&r) == grantNone {
				continue
			}
			if !st.targets(&r) {
				continue
			}
			for _, key := range st.referencedKeys() {
				lk := strings.ToLower(key)
				if _, ok := req.Context.lookup(lk, key, foldHash(lk)); !ok && !seen[lk] {
					seen[lk] = true
					sim.MissingContextValues = append(sim.MissingContextValues, key)
				}
			}
			if st.applies(&r) {
				start, end := st.span(p.doc)
				sim.Matched = append(sim.Matched, MatchedStatement{PolicyName: p.Name, Source: src,
					Sid: st.Sid, Effect: st.Effect, Start: start, End: end})
			}
		}
	}
	for _, level := range set.SCP {
		for _, p := range level {
			visit(p, SourceSCP)
		}
	}
	for _, level := range set.RCP {
		for _, p := range level {
			visit(p, SourceRCP)
		}
	}
	if set.Resource != nil {
		src := SourceResource
		if set.Resource.kind == KindTrust {
			src = SourceTrust
		}
		visit(set.Resource, src)
	}
	if set.Registry != nil {
		visit(set.Registry, SourceResource)
	}
	for _, p := range set.Identity {
		visit(p, SourceIdentity)
	}
	if set.Boundary != nil {
		visit(set.Boundary, SourceBoundary)
	}
	for _, p := range set.Session {
		visit(p, SourceSession)
	}
	return sim
}

// targets reports whether the statement's Action and Resource cover the request
// (conditions aside). A Resource whose variable is unresolved still counts as targeting.
func (st *Statement) targets(r *evalReq) bool {
	if st.matchAction(r) == st.notAction {
		return false
	}
	if !st.hasResource {
		return true
	}
	matched, unresolved := false, false
	for i := range st.resources {
		rp := &st.resources[i]
		if rp.all {
			matched = true
			break
		}
		m, resolved := rp.pat.match(r.Resource, r.Context)
		matched = matched || m
		unresolved = unresolved || !resolved
	}
	return unresolved || matched != st.notResource
}

// referencedKeys lists condition keys and variable keys the statement reads, as written.
func (st *Statement) referencedKeys() []string {
	var keys []string
	addVars := func(p *pattern) {
		for _, t := range p.toks {
			if t.kind == tokVar && !t.hasDef {
				keys = append(keys, t.name)
			}
		}
	}
	for i := range st.resources {
		rp := &st.resources[i]
		addVars(&rp.pat.whole)
		for j := range rp.pat.segs {
			addVars(&rp.pat.segs[j])
		}
	}
	for i := range st.conds {
		c := &st.conds[i]
		if !c.ifExists && c.op.fam != famNull {
			keys = append(keys, c.key)
		}
		for j := range c.values {
			addVars(&c.values[j].str)
			addVars(&c.values[j].arn.whole)
			for k := range c.values[j].arn.segs {
				addVars(&c.values[j].arn.segs[k])
			}
		}
	}
	return keys
}
