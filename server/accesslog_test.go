package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAccessLogKeepsServeContent serves a file through the access log with http.ServeContent
// (the path blob downloads take) and checks status, bytes and that Range still works.
func TestAccessLogKeepsServeContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blob")
	content := strings.Repeat("0123456789", 10000)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	var sawReaderFrom bool
	srv := httptest.NewServer(accessLog(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, sawReaderFrom = w.(io.ReaderFrom)
		f, err := os.Open(path)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "", time.Time{}, f)
	})))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2/x/blobs/sha256:0", nil)
	req.Header.Set("Range", "bytes=10-99999")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || string(body) != content[10:] {
		t.Fatalf("ranged GET = %s with %d bytes", resp.Status, len(body))
	}
	if !sawReaderFrom {
		t.Error("the access log's writer hides io.ReaderFrom, so sendfile cannot be used")
	}
	srv.Close() // the log line is written when the handler returns; Close waits for it
	want := "status=206 bytes=99990"
	if !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs)
	}
}

// TestAccessLogOffAboveInfo: with the level above info the request is served and nothing is
// logged.
func TestAccessLogOffAboveInfo(t *testing.T) {
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError}))
	srv := httptest.NewServer(accessLog(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := logs.String(); got != "" {
		t.Fatalf("logged at level error: %q", got)
	}
}
