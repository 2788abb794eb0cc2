package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCheckLoopback(t *testing.T) {
	ok := []string{"127.0.0.1:5000", "127.1.2.3:0", "[::1]:5000", "localhost:5000", "[::ffff:127.0.0.1]:1"}
	refused := []string{"0.0.0.0:5000", ":5000", "[::]:5000", "192.0.2.10:5000", "10.0.0.1:80", "[2001:db8::1]:5000"}
	for _, addr := range ok {
		if err := CheckLoopback(context.Background(), addr); err != nil {
			t.Errorf("CheckLoopback(%q) = %v, want nil", addr, err)
		}
	}
	for _, addr := range refused {
		err := CheckLoopback(context.Background(), addr)
		var nl *NotLoopbackError
		if !errors.As(err, &nl) {
			t.Errorf("CheckLoopback(%q) = %v, want a *NotLoopbackError", addr, err)
			continue
		}
		if !strings.Contains(err.Error(), "loopback") || !strings.Contains(err.Error(), addr) {
			t.Errorf("message %q should name the address and explain loopback", err)
		}
	}
	if err := CheckLoopback(context.Background(), "no-port"); err == nil {
		t.Error("CheckLoopback accepted an address without a port")
	}
}

func TestOpenRefusesNonLoopbackBeforeTouchingData(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	_, err := Open(context.Background(), Config{Listen: "0.0.0.0:0", DataDir: dir, Region: "us-east-1", InsecureNoAuth: true})
	var nl *NotLoopbackError
	if !errors.As(err, &nl) {
		t.Fatalf("Open = %v, want *NotLoopbackError", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("data directory was created (%v) although the address was refused", err)
	}
}

// logBuffer collects the server's log for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// running is a server under test: cancel stops it, done is closed when Serve returned err.
type running struct {
	*Server
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	logs   *logBuffer
	active chan struct{} // a value each time a connection starts reading a request
}

// waitActive waits for a connection to start reading a request.
func waitActive(t *testing.T, r *running) {
	t.Helper()
	select {
	case <-r.active:
	case <-time.After(20 * time.Second):
		t.Fatal("no connection became active")
	}
}

// stopped cancels the server and waits for Serve's result.
func (r *running) stopped(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop within 30s")
		return nil
	}
}

// start opens and serves a server on a free loopback port, its registry without
// authorization (InsecureNoAuth: these tests are about the server's life, not about who may
// call it); it is stopped at the test's end.
func start(t *testing.T, cfg Config) *running {
	t.Helper()
	cfg.InsecureNoAuth = true
	return startServer(t, cfg)
}

// startAuthorized is start with the registry's authentication and authorization on, as
// coffer serve runs by default.
func startAuthorized(t *testing.T, cfg Config) *running {
	t.Helper()
	return startServer(t, cfg)
}

func startServer(t *testing.T, cfg Config) *running {
	t.Helper()
	logs := &logBuffer{}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Open(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &running{Server: s, cancel: cancel, done: make(chan struct{}), logs: logs, active: make(chan struct{}, 100)}
	s.httpServer.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateActive {
			select {
			case r.active <- struct{}{}:
			default:
			}
		}
	}
	go func() {
		r.err = s.Serve(ctx)
		close(r.done)
	}()
	t.Cleanup(func() { r.stopped(t) })
	return r
}

func TestServeLayoutAndWorkers(t *testing.T) {
	dir := t.TempDir()
	s := start(t, Config{DataDir: dir, CreateOnPush: true, GCInterval: time.Hour})

	resp, err := http.Get(s.URL() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Distribution-Api-Version") != "registry/2.0" {
		t.Errorf("GET /v2/ = %s %v", resp.Status, resp.Header)
	}
	for _, p := range []string{Layout(dir).Blobs(), Layout(dir).MetaDB()} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("data layout: %v", err)
		}
	}
	resp, err = http.Get(s.URL() + "/not-an-api")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /not-an-api = %s, want 404", resp.Status)
	}

	if err := s.stopped(t); err != nil {
		t.Fatalf("Serve = %v, want nil after a clean shutdown", err)
	}
	log := s.logs.String()
	for _, want := range []string{`msg="worker started" worker=gc`, `msg="worker stopped" worker=gc`, `msg="coffer stopped"`,
		`msg=request method=GET path=/v2/ status=200`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if _, err := net.Dial("tcp", s.Addr().String()); err == nil {
		t.Error("the listener still accepts connections after shutdown")
	}
}

func TestNoGCWorkerWhenIntervalIsZero(t *testing.T) {
	s := start(t, Config{})
	resp, err := http.Get(s.URL() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.stopped(t)
	if strings.Contains(s.logs.String(), "worker=gc") {
		t.Errorf("a gc worker ran with GCInterval 0:\n%s", s.logs)
	}
}

// TestGracefulShutdownFinishesRequestInFlight cancels the server while a blob upload is still
// streaming its body; the upload must complete and be answered before Serve returns.
func TestGracefulShutdownFinishesRequestInFlight(t *testing.T) {
	s := start(t, Config{CreateOnPush: true, ShutdownTimeout: 30 * time.Second})

	resp, err := http.Post(s.URL()+"/v2/111122223333/shutdown/test/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start upload: %s", resp.Status)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	drain(s.active)

	body, writer := io.Pipe()
	req, _ := http.NewRequest(http.MethodPatch, loc.String(), body)
	req.Header.Set("Content-Type", "application/octet-stream")
	answered := make(chan *http.Response, 1)
	go func() {
		// A fresh connection: on a kept-alive idle one, Shutdown may close it before the
		// server has read the first bytes of the request (clients retry that case).
		resp, err := freshConnection.Do(req)
		if err != nil {
			t.Error(err)
			answered <- nil
			return
		}
		resp.Body.Close()
		answered <- resp
	}()
	chunk := bytes.Repeat([]byte("x"), 64*1024)
	if _, err := writer.Write(chunk); err != nil {
		t.Fatal(err)
	}

	waitActive(t, s) // the server has started reading the PATCH
	s.cancel()       // as SIGTERM would
	select {
	case <-s.done:
		t.Fatalf("Serve returned (%v) while a request was still in flight\n%s", s.err, s.logs)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := writer.Write(chunk); err != nil {
		t.Fatal(err)
	}
	writer.Close()

	if resp := <-answered; resp == nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("upload chunk during shutdown: %v", resp)
	} else if got := resp.Header.Get("Range"); got != "0-131071" {
		t.Errorf("Range after the in-flight chunk = %q, want 0-131071", got)
	}
	if err := s.stopped(t); err != nil {
		t.Errorf("Serve = %v", err)
	}
}

// drain empties a channel of earlier events.
func drain(c chan struct{}) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// freshConnection is a client that opens a new connection for every request.
var freshConnection = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// TestShutdownTimeoutEndsStuckRequests: a request that never finishes does not keep the
// process alive past the shutdown timeout.
func TestShutdownTimeoutEndsStuckRequests(t *testing.T) {
	s := start(t, Config{CreateOnPush: true, ShutdownTimeout: 200 * time.Millisecond})
	resp, err := http.Post(s.URL()+"/v2/111122223333/stuck/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	drain(s.active)
	body, writer := io.Pipe()
	defer writer.Close()
	req, _ := http.NewRequest(http.MethodPatch, loc.String(), body)
	go func() {
		if resp, err := freshConnection.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	writer.Write([]byte("never finished"))
	time.Sleep(100 * time.Millisecond)
	s.stopped(t) // fails the test unless Serve returns well before the request would end
	if !strings.Contains(s.logs.String(), "closing their connections") {
		t.Errorf("no warning about forced close in the log:\n%s", s.logs)
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSignedCert(t, dir)
	s := start(t, Config{TLSCertFile: certFile, TLSKeyFile: keyFile})
	if !strings.HasPrefix(s.URL(), "https://") {
		t.Fatalf("URL = %s, want https", s.URL())
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	resp, err := client.Get(s.URL() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/ over TLS = %s", resp.Status)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2 over TLS", resp.Proto)
	}
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("connection state %+v, want TLS 1.2 or later", resp.TLS)
	}
	// Plain HTTP to the TLS port gets no registry answer.
	plain, err := http.Get("http://" + s.Addr().String() + "/v2/")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode == http.StatusOK {
			t.Error("plain HTTP was served on the TLS listener")
		}
	}
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSignedCert(t, dir)
	cases := map[string]Config{
		"cert without key": {TLSCertFile: certFile},
		"key without cert": {TLSKeyFile: keyFile},
		"missing files":    {TLSCertFile: filepath.Join(dir, "nope.pem"), TLSKeyFile: keyFile},
		"key for cert":     {TLSCertFile: keyFile, TLSKeyFile: keyFile},
	}
	for name, cfg := range cases {
		cfg.Listen, cfg.DataDir, cfg.Region = "127.0.0.1:0", t.TempDir(), "us-east-1"
		if s, err := Open(context.Background(), cfg); err == nil {
			s.listener.Close()
			s.closeData()
			t.Errorf("%s: Open succeeded", name)
		}
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key, and returns a pool trusting it.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "coffer test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
