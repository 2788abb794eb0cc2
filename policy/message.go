package policy

// DeniedMessage renders AWS's AccessDenied sentence for a denied decision, e.g.
// "User: arn:aws:iam::111122223333:user/alice is not authorized to perform:
// ecr:BatchGetImage on resource: arn:aws:ecr:us-east-1:111122223333:repository/app
// because no identity-based policy allows the ecr:BatchGetImage action".
// It returns "" for an allowed decision.
func DeniedMessage(req *Request, d Decision) string {
	if d.Outcome == Allowed {
		return ""
	}
	who := req.Principal.ARN
	if req.Principal.Type == PrincipalAnonymous || who == "" {
		who = "anonymous"
	}
	msg := "User: " + who + " is not authorized to perform: " + req.Action
	if req.Resource != "" {
		msg += " on resource: " + req.Resource
	}
	source := d.Source
	if source == SourceNone {
		source = SourceIdentity
	}
	noun := source.Phrase() + " policy"
	if source == SourceBoundary {
		noun = source.Phrase() // AWS says "permissions boundary", not "permissions boundary policy"
	}
	if d.Outcome == ExplicitDeny {
		article := "a "
		if source == SourceIdentity {
			article = "an "
		}
		return msg + " with an explicit deny in " + article + noun
	}
	return msg + " because no " + noun + " allows the " + req.Action + " action"
}
