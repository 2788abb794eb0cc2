package server

import (
	"net/http"

	"github.com/coffer-registry/coffer/audit"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/registry"
	"github.com/coffer-registry/coffer/registryauth"
)

// compose builds the one handler every request enters, and the background workers.
//
// Routing by protocol (see design/ARCHITECTURE.md):
//
//	/v2/...                                   OCI distribution API       package registry
//	POST / with X-Amz-Target: ...ECR...       ECR JSON 1.1 API           package ecrapi
//	POST / with X-Amz-Target: AWSOrganiz...   Organizations JSON 1.1     package orgapi
//	POST / (or GET /) with Action=...         IAM / STS query API        packages iamapi, stsapi
//
// The AWS APIs are served by api's endpoint (awsapi.go), which hands every other request to
// the mux below; a path neither knows is 404.
//
// Every /v2/ request is authenticated (Basic AWS:<token>) and authorized as its ECR action by
// registryauth's hooks, unless cfg.InsecureNoAuth; every request, registry or AWS API,
// allowed or denied, becomes one event of the audit trail. Requests addressed to ECR's own
// host form (ACCOUNT.dkr.ecr.REGION.amazonaws.com) are rewritten to HOST/ACCOUNT/NAME first.
func compose(cfg Config, data *Data, api *awsAPI, trail *audit.Writer) (http.Handler, []Worker, error) {
	client := awsproto.ClientInfo{Proxies: cfg.TrustedProxies}
	regCfg := registry.Config{
		Blobs:        data.Blobs,
		Store:        data.Meta,
		Region:       cfg.Region,
		CreateOnPush: cfg.CreateOnPush,
		Logger:       cfg.Logger,
		Routed:       registryauth.NoteOperation, // the audit event's operation, routed once
	}
	if !cfg.InsecureNoAuth {
		regCfg = registryauth.New(registryauth.Config{Tokens: api.Tokens, Authorizer: api.Authorizer,
			Client: client, Logger: cfg.Logger}).Config(regCfg)
	}
	reg := registry.New(regCfg)
	mux := http.NewServeMux()
	mux.Handle("/v2/", trail.Registry(audit.RegistryConfig{Region: cfg.Region, Client: client,
		Describe: registryauth.Describe(reg)}, reg))

	var workers []Worker
	if cfg.GCInterval > 0 {
		collector := data.Collector(cfg.GCGrace, cfg.GCInterval, cfg.Logger)
		workers = append(workers, Worker{Name: "gc", Run: collector.Run})
	}
	workers = append(workers, api.SessionSweeper(cfg.Logger))
	return registryauth.ECRHost(api.Handler(cfg, mux)), workers, nil
}
