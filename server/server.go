// Package server runs Coffer: it opens the data directory, puts every API on one listener
// (plain or TLS), runs the background workers, and shuts all of it down gracefully.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/coffer-registry/coffer/audit"
)

// Config is everything Open needs. The zero value of an optional field picks its default.
type Config struct {
	Listen  string // host:port; any address, or loopback only with InsecureNoAuth (see CheckLoopback)
	DataDir string // see Layout for what lives inside
	Region  string // AWS region of every ARN, e.g. us-east-1

	TLSCertFile string // PEM certificate chain; HTTPS when set (with TLSKeyFile)
	TLSKeyFile  string // PEM private key

	CreateOnPush bool // a push to a missing repository creates it

	// ECRHostNames makes the ECR API name registries as ECR does (repositoryUri
	// ACCOUNT.dkr.ecr.REGION.amazonaws.com[:PORT]/NAME, proxyEndpoint
	// https://ACCOUNT.dkr.ecr.REGION.amazonaws.com), for docker-credential-ecr-login and
	// ECR-style image references; those names must resolve to this server.
	ECRHostNames bool

	// TrustedProxies are the reverse proxies (load balancers) in front of Coffer whose
	// X-Forwarded-For and X-Forwarded-Proto headers are believed: from them, aws:SourceIp is
	// the client they forwarded and aws:SecureTransport is whether the client used HTTPS.
	// From anyone else those headers are ignored. Empty: aws:SourceIp is the peer.
	TrustedProxies []netip.Prefix

	// InsecureNoAuth serves the registry (/v2/) without authentication or authorization, as
	// before issue 5: whoever reaches the port reads and writes every repository, so Open
	// refuses it unless Listen is a loopback address. For local experiments and tests only;
	// the AWS APIs always authenticate.
	InsecureNoAuth bool

	AuditRetention  time.Duration // audit files of days older than this are deleted; 0: kept forever
	GCInterval      time.Duration // pause between background GC passes; 0: no background GC
	GCGrace         time.Duration // age before garbage may be collected; 0: none (tests)
	Durability      Durability    // what an acknowledged write survives; "": DurabilityProcess
	ShutdownTimeout time.Duration // grace for requests in flight at shutdown; default 30s

	Logger *slog.Logger // default: slog.Default()

	// Stdout receives the lines a user copies to reach the AWS APIs (export
	// AWS_SHARED_CREDENTIALS_FILE=..., AWS_ENDPOINT_URL=..., AWS_REGION=...); nil: not printed.
	Stdout io.Writer
}

// Worker is a background duty that runs until its context is cancelled.
type Worker struct {
	Name string
	Run  func(ctx context.Context) error
}

// Server is a running Coffer: a bound listener, its handler, the workers and the open data.
type Server struct {
	log             *slog.Logger
	listener        net.Listener
	scheme          string
	httpServer      *http.Server
	workers         []Worker
	shutdownTimeout time.Duration
	closeData       func() error
}

// Open checks the configuration, opens the data directory, binds the listener and builds the
// handler. Nothing is served until Serve.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	if cfg.Region == "" {
		return nil, errors.New("server: region is empty")
	}
	if cfg.InsecureNoAuth {
		if err := CheckLoopback(ctx, cfg.Listen); err != nil {
			return nil, err
		}
	}
	tlsConfig, err := loadTLS(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return nil, err
	}
	data, err := OpenData(cfg.DataDir, cfg.GCGrace, cfg.Durability, true)
	if err != nil {
		return nil, err
	}
	trail, err := audit.Open(audit.Config{Dir: data.Layout.Audit(), Retention: cfg.AuditRetention, Logger: cfg.Logger})
	if err != nil {
		data.Close()
		return nil, fmt.Errorf("server: audit trail: %w", err)
	}
	api, err := openAWSAPI(ctx, cfg, data.Layout, awsAPIHooks{Observe: trail.ObserveAPI(cfg.Region)})
	if err != nil {
		trail.Close()
		data.Close()
		return nil, err
	}
	// The trail closes last: every request has ended by then, its event queued.
	closeAll := func() error { return errors.Join(api.Close(), data.Close(), trail.Close()) }
	if err := api.saveRootKey(data.Layout); err != nil {
		closeAll()
		return nil, err
	}
	handler, workers, err := compose(cfg, data, api, trail)
	if err != nil {
		closeAll()
		return nil, err
	}
	s, err := listen(cfg, tlsConfig, handler, workers)
	if err != nil {
		closeAll()
		return nil, err
	}
	s.closeData = closeAll
	api.RegisterECR(cfg, data, s.Addr().String(), s.scheme)
	if err := api.announce(cfg.Stdout, cfg.Logger, data.Layout, s.URL(), cfg.Region); err != nil {
		s.listener.Close()
		closeAll()
		return nil, err
	}
	return s, nil
}

// listen binds the listener and assembles the Server around handler.
func listen(cfg Config, tlsConfig *tls.Config, handler http.Handler, workers []Worker) (*Server, error) {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if cfg.InsecureNoAuth && !isLoopbackListener(ln.Addr()) {
		ln.Close()
		return nil, &NotLoopbackError{Addr: cfg.Listen, Reason: "bound to " + ln.Addr().String()}
	}
	if cfg.InsecureNoAuth {
		cfg.Logger.Warn("the registry serves without authentication or authorization (--insecure-no-auth): every local user may read and write every repository")
	} else if tlsConfig == nil && !isLoopbackListener(ln.Addr()) {
		cfg.Logger.Warn("serving plain HTTP on a network address: registry tokens and signed requests cross the network unencrypted; use --tls-cert and --tls-key")
	}
	scheme := "http"
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
		scheme = "https"
	}
	s := &Server{
		log:      cfg.Logger,
		listener: ln,
		scheme:   scheme,
		httpServer: &http.Server{
			Handler:           accessLog(cfg.Logger, handler),
			ReadHeaderTimeout: 30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
			// No ReadTimeout or WriteTimeout: a layer upload or download may take long.
		},
		workers:         workers,
		shutdownTimeout: cfg.ShutdownTimeout,
	}
	return s, nil
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// URL is the base URL clients use, e.g. http://127.0.0.1:5000.
func (s *Server) URL() string { return s.scheme + "://" + s.listener.Addr().String() }

// Serve serves requests and runs the workers until ctx is cancelled, then stops accepting,
// gives requests in flight up to the shutdown timeout to finish, stops the workers and closes
// the data. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context) error {
	workCtx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for _, w := range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.log.Info("worker started", "worker", w.Name)
			if err := w.Run(workCtx); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Error("worker stopped", "worker", w.Name, "err", err)
				return
			}
			s.log.Info("worker stopped", "worker", w.Name)
		}()
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- s.httpServer.Serve(s.listener) }()
	s.log.Info("coffer serving", "url", s.URL())

	var err error
	select {
	case err = <-serveErr: // the listener failed; shut the rest down all the same
	case <-ctx.Done():
		s.log.Info("shutting down", "grace", s.shutdownTimeout)
		shutCtx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
		err = s.httpServer.Shutdown(shutCtx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			s.log.Warn("requests still running after the grace period; closing their connections")
			err = s.httpServer.Close()
		}
		if e := <-serveErr; !errors.Is(e, http.ErrServerClosed) && err == nil {
			err = e
		}
	}
	stopWorkers()
	wg.Wait()
	if s.closeData != nil {
		if e := s.closeData(); e != nil && err == nil {
			err = e
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	s.log.Info("coffer stopped")
	return err
}

// loadTLS reads the certificate and key, or returns nil for plain HTTP when both are empty.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("server: TLS needs both a certificate and a key file")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("server: TLS: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}, nil
}
