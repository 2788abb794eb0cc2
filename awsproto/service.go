package awsproto

// Protocol is the wire protocol of a request on the shared listener.
type Protocol int

const (
	ProtocolUnknown  Protocol = iota
	ProtocolRegistry          // OCI distribution API under /v2
	ProtocolJSON              // AWS JSON 1.1: POST / with X-Amz-Target
	ProtocolQuery             // AWS query: Action=... form or URL query, XML answers
)

func (p Protocol) String() string {
	switch p {
	case ProtocolRegistry:
		return "registry"
	case ProtocolJSON:
		return "json1.1"
	case ProtocolQuery:
		return "query"
	default:
		return "unknown"
	}
}

// Service describes one AWS API Coffer speaks, with the facts of its botocore model.
type Service struct {
	Name         string // SigV4 signing name and IAM action prefix: "ecr", "iam", ...
	Protocol     Protocol
	TargetPrefix string // JSON: the part of X-Amz-Target before the dot
	APIVersion   string // query: the Version parameter
	XMLNamespace string // query: the namespace of responses
}

// Action is the IAM action an operation of this service is authorized as, e.g. "iam:CreateUser".
func (s *Service) Action(operation string) string { return s.Name + ":" + operation }

var (
	ECR = &Service{Name: "ecr", Protocol: ProtocolJSON,
		TargetPrefix: "AmazonEC2ContainerRegistry_V20150921", APIVersion: "2015-09-21"}
	Organizations = &Service{Name: "organizations", Protocol: ProtocolJSON,
		TargetPrefix: "AWSOrganizationsV20161128", APIVersion: "2016-11-28"}
	IAM = &Service{Name: "iam", Protocol: ProtocolQuery,
		APIVersion: "2010-05-08", XMLNamespace: "https://iam.amazonaws.com/doc/2010-05-08/"}
	STS = &Service{Name: "sts", Protocol: ProtocolQuery,
		APIVersion: "2011-06-15", XMLNamespace: "https://sts.amazonaws.com/doc/2011-06-15/"}
)

// Services lists every AWS API served, for lookups by name or target prefix.
var Services = []*Service{ECR, Organizations, IAM, STS}

// stsOperations is the STS operation set of the botocore model (sts 2011-06-15); it decides
// the service of an unsigned query request that carries no Version.
var stsOperations = map[string]bool{
	"AssumeRole": true, "AssumeRoleWithSAML": true, "AssumeRoleWithWebIdentity": true,
	"AssumeRoot": true, "DecodeAuthorizationMessage": true, "GetAccessKeyInfo": true,
	"GetCallerIdentity": true, "GetDelegatedAccessToken": true, "GetFederationToken": true,
	"GetSessionToken": true, "GetWebIdentityToken": true,
}

func serviceByName(name string) *Service {
	for _, s := range Services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func serviceByTargetPrefix(prefix string) *Service {
	for _, s := range Services {
		if s.Protocol == ProtocolJSON && s.TargetPrefix == prefix {
			return s
		}
	}
	return nil
}
