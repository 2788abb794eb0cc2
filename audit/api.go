package audit

import (
	"context"
	"time"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/awsproto"
)

// deniedCodes are the API error codes that mean the request was refused for who sent it:
// failed authentication or a denied authorization.
var deniedCodes = map[string]bool{
	"AccessDenied": true, "AccessDeniedException": true,
	"MissingAuthenticationToken": true, "InvalidClientTokenId": true, "SignatureDoesNotMatch": true,
	"IncompleteSignature": true, "RequestExpired": true, "ExpiredToken": true, "ExpiredTokenException": true,
	"UnrecognizedClientException": true, "InvalidSignatureException": true, "InactiveAccessKey": true,
}

// ObserveAPI returns the awsproto.EndpointConfig.Observe hook: one event per AWS API call.
// region is Coffer's region, used when the request named none.
func (w *Writer) ObserveAPI(region string) func(ctx context.Context, o awsproto.Outcome) {
	return func(ctx context.Context, o awsproto.Outcome) {
		w.Record(APIEvent(ctx, o, region))
	}
}

// APIEvent builds the event of one AWS API call.
func APIEvent(ctx context.Context, o awsproto.Outcome, region string) *Event {
	call := o.Call
	caller := auth.CallerFrom(ctx)
	id, method := identityOf(caller)
	if caller == nil {
		method = ""
	}
	e := &Event{
		UserIdentity:    id,
		EventTime:       call.Request.ReceivedAt,
		EventSource:     "coffer",
		EventName:       call.Operation,
		AWSRegion:       region,
		SourceIPAddress: addrString(call.Request),
		UserAgent:       call.Request.UserAgent,
		RequestID:       call.Request.RequestID,
		ReadOnly:        readOnlyOperation(call.Operation),
		AdditionalEventData: AdditionalData{Decision: Allow, Action: call.Action(), HTTPStatus: o.Status,
			AuthMethod: method, DurationMS: o.Duration.Milliseconds()},
	}
	if e.EventTime.IsZero() {
		e.EventTime = time.Now()
	}
	if caller != nil && caller.Region != "" {
		e.AWSRegion = caller.Region
	}
	if call.Service != nil {
		e.EventSource = call.Service.Name + ".amazonaws.com"
	}
	switch call.Protocol {
	case awsproto.ProtocolJSON:
		e.AdditionalEventData.Protocol = "json"
		e.RequestParameters = JSONParameters(call.Body)
	case awsproto.ProtocolQuery:
		e.AdditionalEventData.Protocol = "query"
		e.RequestParameters = QueryParameters(call.Params)
	default:
		e.AdditionalEventData.Protocol = "unknown"
	}
	if call.Request.SecureTransport {
		e.TLSDetails = &TLSDetails{}
	}
	if o.Err != nil {
		e.ErrorCode, e.ErrorMessage = o.Err.Code, o.Err.Message
		if deniedCodes[o.Err.Code] {
			e.AdditionalEventData.Decision = Deny
		}
	}
	e.RecipientAccountID = id.AccountID
	if call.Service == awsproto.ECR {
		ecrResources(e, e.AWSRegion)
	}
	return e
}

// ecrResources names the repository an ECR call acted on, and the registry it belongs to.
func ecrResources(e *Event, region string) {
	account := e.UserIdentity.AccountID
	if reg, ok := e.RequestParameters["registryId"].(string); ok && reg != "" {
		account = reg
	}
	if account != "" {
		e.RecipientAccountID = account
	}
	name, ok := e.RequestParameters["repositoryName"].(string)
	if !ok || name == "" || account == "" {
		return
	}
	e.AdditionalEventData.Repository = name
	e.Resources = []Resource{{ARN: "arn:aws:ecr:" + region + ":" + account + ":repository/" + name,
		AccountID: account, Type: "AWS::ECR::Repository"}}
}

func addrString(rc awsproto.RequestContext) string {
	if !rc.SourceIP.IsValid() {
		return ""
	}
	return rc.SourceIP.String()
}
