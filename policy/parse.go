package policy

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Effect is a statement's Effect.
type Effect uint8

const (
	Allow Effect = iota + 1
	Deny
)

func (e Effect) String() string {
	if e == Deny {
		return "Deny"
	}
	return "Allow"
}

// Policy is a compiled policy document. It is immutable after Parse and safe for
// concurrent use; Name is a label chosen by the caller (policy ARN or name) and reported
// in decisions.
type Policy struct {
	Name string

	kind       Kind
	doc        string
	version    string
	hasVersion bool
	id         string
	hasID      bool
	stmtList   bool // Statement was written as a list
	stmts      []Statement
	filters    []stmtFilter // parallel to stmts, kept small and contiguous for fast rejection
	index      serviceIndex
}

// serviceIndex maps an action's service to the statements that can match it, as bit sets,
// for policies of at most 64 statements.
type serviceIndex struct {
	ok     bool
	hashes []uint64 // distinct service hashes
	masks  []uint64 // statements whose Action names that service
	any    uint64   // statements that may match any service
}

func buildIndex(filters []stmtFilter) serviceIndex {
	if len(filters) > 64 {
		return serviceIndex{}
	}
	ix := serviceIndex{ok: true}
	for i, f := range filters {
		bit := uint64(1) << i
		if f.serviceHash == 0 {
			ix.any |= bit
			continue
		}
		found := false
		for j, h := range ix.hashes {
			if h == f.serviceHash {
				ix.masks[j] |= bit
				found = true
			}
		}
		if !found {
			ix.hashes = append(ix.hashes, f.serviceHash)
			ix.masks = append(ix.masks, bit)
		}
	}
	return ix
}

// candidates is the bit set of statements whose service filter admits serviceHash.
func (ix *serviceIndex) candidates(serviceHash uint64) uint64 {
	m := ix.any
	for j, h := range ix.hashes {
		if h == serviceHash {
			m |= ix.masks[j]
			break
		}
	}
	return m
}

// stmtFilter rejects most statements for a request by service and first letter of the action.
type stmtFilter struct {
	serviceHash uint64 // 0: any service
	nameMask    uint64
}

// Statement is one compiled statement.
type Statement struct {
	Sid    string
	Effect Effect
	hasSid bool

	principal    *principalSpec
	notPrincipal bool

	actionSrc    []string
	actionSingle bool
	actions      []actionPattern
	actionIndex  actionIndex // for statements with many actions
	notAction    bool
	service      string // lower-cased service shared by every Action, or "" (any)
	serviceHash  uint64 // foldHash(service), a cheap first filter
	nameMask     uint64 // bits of the possible first characters of the action name

	resourceSrc    []string
	resourceSingle bool
	resources      []resourcePattern
	notResource    bool
	hasResource    bool

	conds []condition

	start, end int
}

// actionIndex groups a long Action list by service (AWS's ReadOnlyAccess lists
// thousands), so that a request is matched against its own service's patterns only.
type actionIndex struct {
	ok     bool
	hashes []uint64  // sorted foldHash of each literal ASCII service
	groups [][]int32 // the patterns of hashes[i], as indices into Statement.actions
	other  []int32   // patterns whose service has a wildcard or is not ASCII
}

// actionIndexFrom is the length of an Action list from which it is indexed.
const actionIndexFrom = 16

func buildActionIndex(src []string) actionIndex {
	if len(src) < actionIndexFrom {
		return actionIndex{}
	}
	ix := actionIndex{ok: true}
	byHash := map[uint64][]int32{}
	for i, a := range src {
		svc, _, _ := strings.Cut(a, ":")
		if strings.ContainsAny(svc, "*?") || !isASCII(svc) || a == "*" {
			ix.other = append(ix.other, int32(i))
			continue
		}
		h := foldHash(svc)
		byHash[h] = append(byHash[h], int32(i))
	}
	for h := range byHash {
		ix.hashes = append(ix.hashes, h)
	}
	slices.Sort(ix.hashes)
	for _, h := range ix.hashes {
		ix.groups = append(ix.groups, byHash[h])
	}
	return ix
}

type actionPattern struct {
	all bool // "*"
	pat pattern
}

type resourcePattern struct {
	all bool // "*"
	pat arnPattern
}

// Kind is the kind the policy was parsed as.
func (p *Policy) Kind() Kind { return p.kind }

// Document is the policy text as it was parsed.
func (p *Policy) Document() string { return p.doc }

// Version is the policy's Version element ("" when absent).
func (p *Policy) Version() string { return p.version }

// Statements returns the compiled statements in document order.
func (p *Policy) Statements() []Statement { return p.stmts }

// span is the statement's start and end position in the document it was parsed from, as IAM's
// simulator reports them: the start is the column just inside the opening brace.
func (s *Statement) span(doc string) (Position, Position) {
	return positionOf(doc, s.start+1), positionOf(doc, s.end)
}

var partitions = map[string]bool{
	"aws": true, "aws-cn": true, "aws-us-gov": true, "aws-iso": true, "aws-iso-b": true,
	"aws-iso-e": true, "aws-iso-f": true, "aws-eusc": true,
}

var statementElements = map[string]bool{
	"Sid": true, "Effect": true, "Principal": true, "NotPrincipal": true, "Action": true,
	"NotAction": true, "Resource": true, "NotResource": true, "Condition": true,
}

var trustActions = map[string]bool{
	"sts:AssumeRole": true, "sts:AssumeRoleWithSAML": true, "sts:AssumeRoleWithWebIdentity": true,
	"sts:TagSession": true, "sts:SetSourceIdentity": true, "sts:SetContext": true,
}

// Size counts the characters of doc the way AWS does for kind.
func Size(doc []byte, kind Kind) int {
	n := 0
	for _, r := range string(doc) {
		if !kind.CountsWhitespace() && (r == ' ' || r == '\t' || r == '\n' || r == '\r') {
			continue
		}
		n++
	}
	return n
}

// Parse validates doc as a policy of the given kind and compiles it. Errors are a
// *MalformedError (AWS's MalformedPolicyDocument text) or a *SizeError. Documents of
// KindAWSManaged are not size-checked.
func Parse(doc []byte, kind Kind) (*Policy, error) {
	if !kind.known() {
		return nil, malformed("Syntax errors in policy.")
	}
	if limit := kind.SizeLimit(); limit > 0 {
		if size := Size(doc, kind); size > limit {
			return nil, &SizeError{Kind: kind, Limit: limit, Size: size}
		}
	}
	if !utf8.Valid(doc) {
		return nil, malformed("Syntax errors in policy.")
	}
	root, err := decodeTree(doc)
	if err != nil {
		return nil, malformed("Syntax errors in policy.")
	}
	p := &Policy{kind: kind, doc: string(doc)}
	stmts, err := checkSyntax(root, p)
	if err != nil {
		return nil, err
	}
	if kind.requiresModernVersion() && p.version != "2012-10-17" {
		return nil, malformed("Policy document must be version 2012-10-17 or greater.")
	}
	// Legacy parsing: Effect is case-sensitive, Date values must parse, ARNs need their colons.
	resourceErr := ""
	for _, st := range stmts {
		if e := st.get("Effect").str; e != "Allow" && e != "Deny" {
			return nil, malformed("The policy failed legacy parsing")
		}
		for _, key := range []string{"Resource", "NotResource"} {
			for _, r := range stringsOf(st.get(key)) {
				legacyBad, msg := checkResourceFormat(r)
				if legacyBad {
					return nil, malformed("The policy failed legacy parsing")
				}
				if msg != "" && resourceErr == "" {
					resourceErr = msg
				}
			}
		}
	}
	if kind != KindRepository && kind != KindRegistry {
		seen := map[string]bool{}
		for _, st := range stmts {
			if sid := st.get("Sid"); sid != nil {
				if seen[sid.str] {
					return nil, malformed("Statement IDs (SID) in a single policy must be unique.")
				}
				seen[sid.str] = true
			}
		}
		for _, st := range stmts {
			if sid := st.get("Sid"); sid != nil && !isAlnum(sid.str) {
				return nil, malformed("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*")
			}
		}
	}
	for _, st := range stmts {
		a := st.get("Action")
		if a == nil {
			a = st.get("NotAction")
		}
		if a == nil || len(stringsOf(a)) == 0 {
			return nil, malformed("Policy statement must contain actions.")
		}
	}
	if resourceErr != "" {
		return nil, malformed(resourceErr)
	}
	for _, st := range stmts {
		for _, key := range []string{"Action", "NotAction"} {
			for _, a := range stringsOf(st.get(key)) {
				if err := checkActionFormat(a); err != nil {
					return nil, err
				}
			}
		}
		if c := st.get("Condition"); c != nil {
			for _, block := range c.vals {
				for _, key := range block.keys {
					if err := checkConditionKey(key); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	if err := checkKindRules(stmts, kind); err != nil {
		return nil, err
	}
	vars := p.version == "2012-10-17"
	for _, st := range stmts {
		s, err := compileStatement(st, kind, vars)
		if err != nil {
			return nil, err
		}
		p.stmts = append(p.stmts, s)
		f := stmtFilter{nameMask: ^uint64(0)}
		if s.service != "" {
			f = stmtFilter{serviceHash: s.serviceHash, nameMask: s.nameMask}
		}
		p.filters = append(p.filters, f)
	}
	p.index = buildIndex(p.filters)
	return p, nil
}

// checkSyntax applies the structural checks whose failure AWS reports as
// "Syntax errors in policy." and returns the statement objects.
func checkSyntax(root *jnode, p *Policy) ([]*jnode, error) {
	bad := malformed("Syntax errors in policy.")
	if root.kind != 'o' {
		return nil, bad
	}
	for i, k := range root.keys {
		v := root.vals[i]
		switch k {
		case "Version":
			if v.kind != 's' || (v.str != "2012-10-17" && v.str != "2008-10-17") {
				return nil, bad
			}
			p.version, p.hasVersion = v.str, true
		case "Id":
			if v.kind != 's' {
				return nil, bad
			}
			p.id, p.hasID = v.str, true
		case "Statement":
		default:
			return nil, bad
		}
	}
	sn := root.get("Statement")
	if sn == nil {
		return nil, bad
	}
	var stmts []*jnode
	switch sn.kind {
	case 'o':
		stmts = []*jnode{sn}
	case 'a':
		p.stmtList = true
		stmts = sn.elems
	default:
		return nil, bad
	}
	if len(stmts) == 0 {
		return nil, bad
	}
	for _, st := range stmts {
		if st.kind != 'o' {
			return nil, bad
		}
		for _, k := range st.keys {
			if !statementElements[k] {
				return nil, bad
			}
		}
		if (st.get("Resource") != nil && st.get("NotResource") != nil) ||
			(st.get("Action") != nil && st.get("NotAction") != nil) ||
			(st.get("Principal") != nil && st.get("NotPrincipal") != nil) {
			return nil, bad
		}
		e := st.get("Effect")
		if e == nil || e.kind != 's' || (!strings.EqualFold(e.str, "Allow") && !strings.EqualFold(e.str, "Deny")) {
			return nil, bad
		}
		for _, k := range []string{"Action", "NotAction", "Resource", "NotResource"} {
			if v := st.get(k); v != nil && !isStringOrList(v) {
				return nil, bad
			}
		}
		if sid := st.get("Sid"); sid != nil && sid.kind != 's' {
			return nil, bad
		}
		for _, k := range []string{"Principal", "NotPrincipal"} {
			if v := st.get(k); v != nil && !validPrincipalShape(v) {
				return nil, bad
			}
		}
		if c := st.get("Condition"); c != nil {
			if c.kind != 'o' {
				return nil, bad
			}
			for i, opName := range c.keys {
				block := c.vals[i]
				if block.kind != 'o' {
					return nil, bad
				}
				for _, v := range block.vals {
					if !isConditionValue(v) {
						return nil, bad
					}
				}
				if _, _, _, ok := parseOperator(opName); !ok && len(block.keys) > 0 {
					return nil, bad
				}
			}
		}
	}
	return stmts, nil
}

// validAWSPrincipal accepts "*", an account id, an IAM or STS principal ARN without
// wildcards, or the unique id IAM leaves in place of a deleted user or role.
func validAWSPrincipal(v string) bool {
	if v == "*" || (len(v) == 12 && isDigits(v)) {
		return true
	}
	if len(v) >= 16 && v[0] == 'A' && isUpperAlnum(v) {
		return true
	}
	if strings.ContainsAny(v, "*?") {
		return false
	}
	parts := strings.SplitN(v, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !partitions[parts[1]] || parts[3] != "" || len(parts[4]) != 12 || !isDigits(parts[4]) {
		return false
	}
	switch parts[2] {
	case "iam":
		return parts[5] == "root" || strings.HasPrefix(parts[5], "user/") || strings.HasPrefix(parts[5], "role/")
	case "sts":
		return strings.HasPrefix(parts[5], "assumed-role/") || strings.HasPrefix(parts[5], "federated-user/")
	}
	return false
}

func isUpperAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func isStarPrincipal(n *jnode) bool {
	if n.kind == 's' {
		return n.str == "*"
	}
	aws := n.get("AWS")
	return len(n.keys) == 1 && aws != nil && len(stringsOf(aws)) == 1 && stringsOf(aws)[0] == "*"
}

func isStringOrList(n *jnode) bool {
	switch n.kind {
	case 's':
		return true
	case 'a':
		for _, e := range n.elems {
			if e.kind != 's' && e.kind != 'z' {
				return false
			}
		}
		return true
	}
	return false
}

func isConditionValue(n *jnode) bool {
	switch n.kind {
	case 's', 'n', 'b':
		return true
	case 'a':
		for _, e := range n.elems {
			if e.kind != 's' && e.kind != 'n' && e.kind != 'b' {
				return false
			}
		}
		return true
	}
	return false
}

func validPrincipalShape(n *jnode) bool {
	if n.kind == 's' {
		return n.str == "*"
	}
	if n.kind != 'o' || len(n.keys) == 0 {
		return false
	}
	for i, k := range n.keys {
		switch k {
		case "AWS", "Service", "Federated", "CanonicalUser":
		default:
			return false
		}
		v := n.vals[i]
		if v.kind == 'a' {
			if len(v.elems) == 0 {
				return false
			}
			for _, e := range v.elems {
				if e.kind != 's' {
					return false
				}
			}
		} else if v.kind != 's' {
			return false
		}
	}
	return true
}

// stringsOf returns a string-or-list element's strings (nulls skipped).
func stringsOf(n *jnode) []string {
	if n == nil {
		return nil
	}
	if n.kind == 's' {
		return []string{n.str}
	}
	var out []string
	for _, e := range n.elems {
		if e.kind != 'z' {
			out = append(out, e.str)
		}
	}
	return out
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// checkResourceFormat returns (true, "") for resources AWS rejects with "The policy failed
// legacy parsing", or a MalformedPolicyDocument message for other format errors.
func checkResourceFormat(r string) (bool, string) {
	if r == "*" {
		return false, ""
	}
	if strings.Count(r, ":") < 5 && strings.Contains(r, "::") {
		return true, ""
	}
	parts := strings.SplitN(r, ":", 6)
	if len(parts) < 2 {
		return false, `Resource ` + r + ` must be in ARN format or "*".`
	}
	if parts[1] != "*" && !partitions[parts[1]] {
		rest := parts[2:]
		seg := func(i int) string {
			if i < len(rest) && (rest[i] != "" || len(rest) > i+1) {
				return rest[i]
			}
			return "*"
		}
		last := "*"
		if len(rest) > 3 {
			last = strings.Join(rest[3:], ":")
		}
		return false, `Partition "` + parts[1] + `" is not valid for resource "arn:` + parts[1] + `:` + seg(0) + `:` + seg(1) + `:` + seg(2) + `:` + last + `".`
	}
	if len(parts) < 3 {
		return false, "Resource vendor must be fully qualified and cannot contain regexes."
	}
	if len(parts) < 6 {
		// arn:aws:svc with too few segments but no "::": AWS parses it leniently.
		return false, ""
	}
	service, region, resource := parts[2], parts[3], parts[5]
	if service == "iam" {
		if region != "" {
			return false, "IAM resource " + r + " cannot contain region information."
		}
		ok := resource == "*"
		for _, prefix := range []string{"user/", "federated-user/", "role/", "group/", "instance-profile/",
			"mfa/", "server-certificate/", "policy/", "sms-mfa/", "saml-provider/", "oidc-provider/", "report/", "access-report/"} {
			if strings.HasPrefix(resource, prefix) {
				ok = true
			}
		}
		if !ok {
			return false, `IAM resource path must either be "*" or start with user/, federated-user/, role/, group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/.`
		}
	}
	return false, ""
}

func checkActionFormat(a string) error {
	if a == "*" {
		return nil
	}
	parts := strings.Split(a, ":")
	if len(parts) == 1 {
		return malformed("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
	}
	if len(parts) > 2 {
		return malformed("Actions/Condition can contain only one colon.")
	}
	if !validVendor(parts[0]) {
		return malformedf("Vendor %s is not valid", parts[0])
	}
	return nil
}

func checkConditionKey(k string) error {
	vendor, _, ok := strings.Cut(k, ":")
	if !ok {
		return malformed("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
	}
	if !validVendor(vendor) {
		return malformedf("Vendor %s is not valid", vendor)
	}
	return nil
}

func validVendor(v string) bool {
	for _, r := range v {
		if !(r < unicode.MaxASCII && (r == '-' || r == '.' || r == '*' || r == '?' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')) {
			return false
		}
	}
	return v != ""
}

// checkKindRules applies the element rules that depend on where the policy is attached.
func checkKindRules(stmts []*jnode, kind Kind) error {
	for _, st := range stmts {
		hasPrincipal := st.get("Principal") != nil || st.get("NotPrincipal") != nil
		hasResource := st.get("Resource") != nil || st.get("NotResource") != nil
		switch {
		case kind.resourceBased():
			if !hasPrincipal {
				return malformed("Missing required field Principal")
			}
			pn := st.get("Principal")
			if pn == nil {
				pn = st.get("NotPrincipal")
			}
			if pn.kind == 'o' {
				for _, v := range stringsOf(pn.get("AWS")) {
					if !validAWSPrincipal(v) {
						return malformedf(`Invalid principal in policy: "AWS":%q`, v)
					}
				}
			}
		default:
			if !hasResource || len(stringsOf(st.get("Resource")))+len(stringsOf(st.get("NotResource"))) == 0 {
				return malformed("Policy statement must contain resources.")
			}
			if kind == KindRCP {
				// RCPs name every caller: the only Principal they accept is "*".
				if pn := st.get("Principal"); st.get("NotPrincipal") != nil || (pn != nil && !isStarPrincipal(pn)) {
					return malformed("The provided policy document does not meet the requirements of the specified policy type.")
				}
				continue
			}
			if hasPrincipal {
				return malformed("Policy document should not specify a principal.")
			}
		}
		if kind == KindTrust {
			for _, a := range stringsOf(st.get("Action")) {
				if !trustActions[a] {
					return malformed("Trust Policy statement actions can only be sts:AssumeRole, sts:AssumeRoleWithSAML,  and sts:AssumeRoleWithWebIdentity")
				}
			}
			if hasResource {
				return malformed("Has prohibited field Resource.")
			}
		}
	}
	return nil
}

func compileStatement(st *jnode, kind Kind, vars bool) (Statement, error) {
	s := Statement{start: st.start, end: st.end, Effect: Allow}
	if st.get("Effect").str == "Deny" {
		s.Effect = Deny
	}
	if sid := st.get("Sid"); sid != nil {
		s.Sid, s.hasSid = sid.str, true
	}
	pn := st.get("Principal")
	if pn == nil {
		pn = st.get("NotPrincipal")
		s.notPrincipal = pn != nil
	}
	if pn != nil {
		spec := &principalSpec{}
		if pn.kind == 's' {
			spec.star = true
			spec.entries = []principalEntry{{kind: pAny}}
		} else {
			for i, block := range pn.keys {
				vals := stringsOf(pn.vals[i])
				spec.blocks = append(spec.blocks, block)
				spec.values = append(spec.values, vals)
				spec.singles = append(spec.singles, pn.vals[i].kind == 's')
				for _, v := range vals {
					spec.entries = append(spec.entries, compilePrincipalEntry(block, v))
				}
			}
		}
		s.principal = spec
	}
	an := st.get("Action")
	if an == nil {
		an = st.get("NotAction")
		s.notAction = true
	}
	s.actionSrc = stringsOf(an)
	s.actionSingle = an.kind == 's'
	service, shared := "", true
	for i, a := range s.actionSrc {
		ap := actionPattern{all: a == "*", pat: compilePattern(a, true, false)}
		s.actions = append(s.actions, ap)
		svc, _, _ := strings.Cut(a, ":")
		if ap.all || strings.ContainsAny(svc, "*?") {
			shared = false
		} else if i == 0 {
			service = strings.ToLower(svc)
		} else if !strings.EqualFold(svc, service) {
			shared = false
		}
	}
	s.actionIndex = buildActionIndex(s.actionSrc)
	if shared && !s.notAction {
		s.service = service
		s.serviceHash = foldHash(service)
		for _, a := range s.actionSrc {
			_, name, _ := strings.Cut(a, ":")
			if name == "" || name[0] == '*' || name[0] == '?' {
				s.nameMask = ^uint64(0)
				break
			}
			s.nameMask |= charBit(name[0])
		}
	}
	rn := st.get("Resource")
	if rn == nil {
		rn = st.get("NotResource")
		s.notResource = rn != nil
	}
	if rn != nil {
		s.hasResource = true
		s.resourceSrc = stringsOf(rn)
		s.resourceSingle = rn.kind == 's'
		for _, r := range s.resourceSrc {
			s.resources = append(s.resources, resourcePattern{all: r == "*", pat: compileARNPattern(r, true, vars)})
		}
	}
	if cn := st.get("Condition"); cn != nil {
		for i, opName := range cn.keys {
			block := cn.vals[i]
			op, qual, ifExists, ok := parseOperator(opName)
			for j, key := range block.keys {
				if !ok {
					continue
				}
				vn := block.vals[j]
				c := condition{opName: opName, key: key, lkey: strings.ToLower(key), hash: foldHash(key), op: op, qual: qual,
					ifExists: ifExists, single: vn.kind != 'a'}
				elems := []*jnode{vn}
				if vn.kind == 'a' {
					elems = vn.elems
				}
				for _, e := range elems {
					cv, err := compileCondValue(op, e.str, e.kind, vars)
					if err != nil {
						return s, err
					}
					c.values = append(c.values, cv)
				}
				s.conds = append(s.conds, c)
			}
		}
	}
	return s, nil
}

// foldHash hashes s with ASCII letters folded to lower case (see scanKey).
func foldHash(s string) uint64 {
	h, _, _ := scanKey(s)
	return h
}

// charBit maps a character, ignoring ASCII case, to one of 64 bits.
func charBit(c byte) uint64 {
	if c >= 'A' && c <= 'Z' {
		c += 'a' - 'A'
	}
	return 1 << (c & 63)
}
