package audit

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"
)

// Files of days that ended more than the retention ago go when the writer opens and when it
// starts a new file; younger days, the current day and files that are not the trail's stay.
func TestRetentionRemovesOldDays(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	for _, name := range []string{
		"20261120-0001.jsonl", "20261120-0002.jsonl", // ended 8 days 10 hours ago: goes
		"20261121-0001.jsonl", // ended 7 days 10 hours ago: goes
		"20261122-0001.jsonl", // ended 6 days 10 hours ago: stays (retention 7 days)
		"20261129-0001.jsonl", // today
		"notes.txt",           // not the trail's
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("{}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	clock := now
	w, err := Open(Config{Dir: dir, Retention: 7 * 24 * time.Hour, now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"20261122-0001.jsonl", "20261129-0001.jsonl", "notes.txt"}
	if got := names(t, dir); !slices.Equal(got, want) {
		t.Fatalf("after Open: %v, want %v", got, want)
	}

	// A day later the writer starts the next day's file, and the 22nd has aged out.
	clock = now.Add(24 * time.Hour)
	w.Record(&Event{EventTime: clock, EventName: "BatchGetImage"})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want = []string{"20261129-0001.jsonl", "20261130-0001.jsonl", "notes.txt"}
	if got := names(t, dir); !slices.Equal(got, want) {
		t.Fatalf("after the next day's first event: %v, want %v", got, want)
	}
}

func TestNoRetentionKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "20200101-0001.jsonl")
	os.WriteFile(old, []byte("{}\n"), 0o600)
	w, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("a trail without retention lost a file: %v", err)
	}
	if _, err := Open(Config{Dir: dir, Retention: -time.Hour}); err == nil {
		t.Fatal("negative retention accepted")
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}
