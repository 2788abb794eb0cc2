package audit_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/audit"
)

func event(i int, at time.Time, decision, principal, repo string) *audit.Event {
	return &audit.Event{
		EventTime:           at,
		EventSource:         "ecr.amazonaws.com",
		EventName:           "BatchGetImage",
		RequestID:           fmt.Sprintf("req-%d", i),
		UserIdentity:        audit.UserIdentity{Type: "IAMUser", ARN: principal, AccountID: "111122223333"},
		AdditionalEventData: audit.AdditionalData{Decision: decision, Action: "ecr:BatchGetImage", Repository: repo},
		Resources: []audit.Resource{{ARN: "arn:aws:ecr:us-east-1:111122223333:repository/" + repo,
			AccountID: "111122223333", Type: "AWS::ECR::Repository"}},
	}
}

func readAll(t *testing.T, dir string, f audit.Filter) []*audit.Event {
	t.Helper()
	var out []*audit.Event
	if err := audit.Read(dir, f, func(e *audit.Event) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriteFlushRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	w, err := audit.Open(audit.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 250 {
				w.Record(event(g*1000+i, now, audit.Allow, "arn:aws:iam::111122223333:user/alice", "app"))
			}
		}()
	}
	wg.Wait()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// Flush means on disk: a reader sees every event before Close.
	got := readAll(t, dir, audit.Filter{})
	if len(got) != 1000 {
		t.Fatalf("read %d events after Flush, want 1000", len(got))
	}
	ids := map[string]bool{}
	for _, e := range got {
		if e.EventID == "" || ids[e.EventID] || e.EventVersion != audit.EventVersion || e.EventType != "AwsApiCall" {
			t.Fatalf("event defaults: %+v", e)
		}
		ids[e.EventID] = true
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	for _, f := range files {
		st, _ := os.Stat(f)
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Fatalf("audit dir mode %v", st.Mode().Perm())
	}

	// A second writer (a restart) appends to the same day's file.
	w2, err := audit.Open(audit.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	w2.Record(event(5000, now, audit.Deny, "arn:aws:iam::111122223333:user/bob", "app"))
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	files2, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(files2) != len(files) {
		t.Fatalf("restart made a new file: %v -> %v", files, files2)
	}
	if n := len(readAll(t, dir, audit.Filter{})); n != 1001 {
		t.Fatalf("%d events after restart", n)
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	w, err := audit.Open(audit.Config{Dir: dir, MaxFileSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	day1 := time.Date(2026, 11, 28, 23, 59, 0, 0, time.UTC)
	day2 := day1.Add(2 * time.Minute)
	for i := range 40 {
		w.Record(event(i, day1, audit.Allow, "arn:aws:iam::111122223333:user/alice", "app"))
	}
	for i := range 3 {
		w.Record(event(100+i, day2, audit.Allow, "arn:aws:iam::111122223333:user/alice", "app"))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		info, _ := e.Info()
		if info.Size() > 4096 {
			t.Errorf("%s is %d bytes, over the 4096 limit", e.Name(), info.Size())
		}
	}
	sort.Strings(names)
	if len(names) < 3 || names[0] != "20261128-0001.jsonl" || names[1] != "20261128-0002.jsonl" ||
		names[len(names)-1] != "20261129-0001.jsonl" {
		t.Fatalf("files %v", names)
	}
	got := readAll(t, dir, audit.Filter{})
	if len(got) != 43 || got[0].RequestID != "req-0" || got[39].RequestID != "req-39" || got[42].RequestID != "req-102" {
		t.Fatalf("order after rotation: %d events", len(got))
	}
	// Time filters skip whole days.
	if n := len(readAll(t, dir, audit.Filter{Since: day2.Truncate(24 * time.Hour)})); n != 3 {
		t.Fatalf("since day 2: %d", n)
	}
	if n := len(readAll(t, dir, audit.Filter{Until: day2.Truncate(24 * time.Hour)})); n != 40 {
		t.Fatalf("until day 2: %d", n)
	}
}

func TestTornLineIsSkipped(t *testing.T) {
	dir := t.TempDir()
	w, err := audit.Open(audit.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	w.Record(event(1, at, audit.Allow, "arn:aws:iam::111122223333:user/alice", "app"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	f, _ := os.OpenFile(files[0], os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"eventVersion":"1.09","userIdent`) // a crash in the middle of a line
	f.Close()
	w, err = audit.Open(audit.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	w.Record(event(2, at, audit.Allow, "arn:aws:iam::111122223333:user/alice", "app"))
	w.Close()
	got := readAll(t, dir, audit.Filter{})
	// The torn line is skipped; the event written after the restart starts a line of its own.
	if len(got) != 2 || got[0].RequestID != "req-1" || got[1].RequestID != "req-2" {
		t.Fatalf("after a torn line: %d events", len(got))
	}
	raw, _ := os.ReadFile(files[0])
	if bytes.Count(raw, []byte("\n")) != 3 {
		t.Fatalf("file:\n%s", raw)
	}
}

func TestFilters(t *testing.T) {
	dir := t.TempDir()
	w, err := audit.Open(audit.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	alice := "arn:aws:iam::111122223333:user/alice"
	deploy := "arn:aws:sts::444455556666:assumed-role/deploy/ecs"
	w.Record(event(1, t0, audit.Allow, alice, "team-a/app"))
	w.Record(event(2, t0.Add(time.Minute), audit.Deny, alice, "team-b/app"))
	e3 := event(3, t0.Add(2*time.Minute), audit.Allow, deploy, "team-a/app")
	e3.EventName, e3.AdditionalEventData.Action = "PutImage", "ecr:PutImage"
	e3.UserIdentity.AccountID = "444455556666"
	w.Record(e3)
	anon := event(4, t0.Add(3*time.Minute), audit.Deny, "", "public")
	anon.UserIdentity = audit.UserIdentity{Type: "Anonymous", PrincipalID: "anonymous"}
	w.Record(anon)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		f    audit.Filter
		want []string
	}{
		{"all", audit.Filter{}, []string{"req-1", "req-2", "req-3", "req-4"}},
		{"principal arn", audit.Filter{Principal: alice}, []string{"req-1", "req-2"}},
		{"principal pattern", audit.Filter{Principal: "*:assumed-role/deploy/*"}, []string{"req-3"}},
		{"anonymous", audit.Filter{Principal: "anonymous"}, []string{"req-4"}},
		{"account", audit.Filter{Principal: "111122223333"}, []string{"req-1", "req-2"}},
		{"decision", audit.Filter{Decision: "deny"}, []string{"req-2", "req-4"}},
		{"action iam form", audit.Filter{Action: "ecr:PutImage"}, []string{"req-3"}},
		{"action name", audit.Filter{Action: "batchgetimage"}, []string{"req-1", "req-2", "req-4"}},
		{"action prefix", audit.Filter{Action: "Put*"}, []string{"req-3"}},
		{"repository name", audit.Filter{Repository: "team-a/app"}, []string{"req-1", "req-3"}},
		{"repository account/name", audit.Filter{Repository: "111122223333/team-b/app"}, []string{"req-2"}},
		{"repository arn", audit.Filter{Repository: "arn:aws:ecr:us-east-1:111122223333:repository/public"}, []string{"req-4"}},
		{"time window", audit.Filter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, []string{"req-2", "req-3"}},
		{"combined", audit.Filter{Principal: alice, Decision: "Allow", Repository: "team-a/app"}, []string{"req-1"}},
	}
	for _, tc := range cases {
		var got []string
		for _, e := range readAll(t, dir, tc.f) {
			got = append(got, e.RequestID)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	// ErrStop ends the walk without an error.
	n := 0
	err = audit.Read(dir, audit.Filter{}, func(*audit.Event) error { n++; return audit.ErrStop })
	if err != nil || n != 1 {
		t.Fatalf("ErrStop: %d events, %v", n, err)
	}
	if err := audit.Read(filepath.Join(dir, "missing"), audit.Filter{}, nil); err != nil {
		t.Fatalf("a missing trail reads as empty: %v", err)
	}
	if err := audit.Read(dir, audit.Filter{}, func(*audit.Event) error { return errors.New("boom") }); err == nil {
		t.Fatal("a callback error was swallowed")
	}
}
