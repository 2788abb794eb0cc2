package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/server"
)

func newServeCommand(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	var o Options
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the registry",
		Long: `Run the registry: the OCI distribution API under /v2/ and the AWS APIs (IAM, STS,
Organizations, signed with SigV4) on one listener.

The data directory is created when missing. It holds blobs/ (image content), meta.db
(SQLite metadata), iam.db and iam.key (identities, secrets encrypted at rest); nothing else
needs to be installed. Repository names start with a 12-digit account id, e.g.
127.0.0.1:5000/111122223333/team/app:1.

On first start (an empty data directory) serve creates the management account and its
root access key, writes the key to DATA/credentials (AWS shared-credentials format, profile
default, mode 0600) and prints on stdout, on every start, the lines that point the aws CLI
and the SDKs at this server (botocore-based clients read only AWS_DEFAULT_REGION):
  export AWS_SHARED_CREDENTIALS_FILE=/abs/DATA/credentials
  export AWS_ENDPOINT_URL=http://127.0.0.1:5000
  export AWS_REGION=us-east-1
  export AWS_DEFAULT_REGION=us-east-1

SIGTERM or SIGINT stops accepting connections, lets requests in flight finish (up to
--shutdown-timeout), stops the background garbage collector and closes the data.

Every registry request needs a token (user AWS, password from ECR GetAuthorizationToken:
'aws ecr get-login-password | docker login -u AWS --password-stdin HOST') and is authorized as
its ECR action on the repository, by the caller's IAM policies and the repository's policy; a
repository policy granting "*" opens it to anonymous pulls. Every request, allowed or denied,
is appended to the audit trail under DATA/audit/ (read it with 'coffer audit'). Requests to an
ECR-style name (ACCOUNT.dkr.ecr.REGION.amazonaws.com[:port]) that points at this server are
understood as HOST/ACCOUNT/NAME. --insecure-no-auth turns the registry's checks off, on
loopback addresses only.

The garbage collector runs at GOGC=400 (Go's default is 100): a little more memory for
fewer collections under load. Set GOGC to choose otherwise.

Each flag can also be set with its COFFER_* environment variable (shown below) or with the
key of the same name in the --config YAML file: flag > environment > config file > default.`,
		Example: `  coffer serve --listen 127.0.0.1:5000 --data ./coffer-data
  coffer serve --tls-cert cert.pem --tls-key key.pem
  COFFER_LISTEN=127.0.0.1:5443 coffer serve --config coffer.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := resolveOptions(cmd, &o, getenv); err != nil {
				return err
			}
			setGCPercent(getenv)
			proxies, err := awsproto.ParseProxies(o.TrustedProxies)
			if err != nil {
				return fmt.Errorf("--trusted-proxies: %w", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			srv, err := server.Open(ctx, server.Config{
				Listen:          o.Listen,
				DataDir:         o.Data,
				Region:          o.Region,
				TLSCertFile:     o.TLSCert,
				TLSKeyFile:      o.TLSKey,
				CreateOnPush:    o.CreateOnPush,
				ECRHostNames:    o.ECRHostNames,
				TrustedProxies:  proxies,
				InsecureNoAuth:  o.InsecureNoAuth,
				AuditRetention:  o.AuditRetention,
				GCInterval:      o.GCInterval,
				GCGrace:         o.GCGrace,
				Durability:      server.Durability(o.Durability),
				ShutdownTimeout: o.ShutdownTimeout,
				Logger:          newLogger(stderr, o),
				Stdout:          stdout,
			})
			if err != nil {
				return err
			}
			return srv.Serve(ctx)
		},
	}
	optionFlags(cmd, &o, "listen", "data", "region", "tls-cert", "tls-key", "create-on-push", "ecr-host-names", "trusted-proxies", "insecure-no-auth", "audit-retention",
		"gc-interval", "gc-grace", "durability", "shutdown-timeout", "log-level", "log-format")
	return cmd
}

// serveGCPercent is the garbage collector's target for serve unless GOGC says otherwise.
// The registry keeps little memory live (a few MiB under manifest load, GODEBUG=gctrace=1)
// and allocates a few KiB per request: with Go's default of 100 it collected tens of times a
// second, about a tenth of the CPU of a manifest GET. At 400 the heap may grow to five times
// what is live before a collection (Go's floor is then 16 MiB), for about 15% more requests
// per second; peak RSS during a 2 GiB upload stayed at 25 MiB.
const serveGCPercent = 400

func setGCPercent(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
}

// newLogger builds the process logger from --log-level and --log-format (already validated).
func newLogger(w io.Writer, o Options) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(o.LogLevel)))
	opts := &slog.HandlerOptions{Level: level}
	if o.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
