package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/store"
)

// Concurrent writes share transactions: each request still gets its own outcome, a failing
// request leaves nothing behind and does not take the others down, and what succeeded is
// there afterwards.
func TestGroupCommitKeepsEachRequestsOutcome(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	repo, err := s.CreateRepository(ctx, "111122223333", "team/app")
	if err != nil {
		t.Fatal(err)
	}
	const n = 400
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := store.Upload{ID: fmt.Sprintf("upload-%03d", i), RepositoryID: repo.ID, StartedAt: time.Now()}
			switch i % 4 {
			case 1: // a repository that does not exist: the store's own error
				u.RepositoryID = repo.ID + 1000
			case 2: // writes twice and then fails: both writes must be rolled back
				errs[i] = s.write(ctx, func(tx *sql.Tx) error {
					if _, err := tx.Exec(`INSERT INTO uploads (id, repository_id, started_at) VALUES ($1, $2, 0)`, u.ID, u.RepositoryID); err != nil {
						return err
					}
					if _, err := tx.Exec(`INSERT INTO uploads (id, repository_id, started_at) VALUES ($1, $2, 0)`, u.ID+"-b", u.RepositoryID); err != nil {
						return err
					}
					return errTest
				})
				return
			case 3: // a request whose caller already gave up
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				errs[i] = s.CreateUpload(cctx, u)
				return
			}
			errs[i] = s.CreateUpload(ctx, u)
		}()
	}
	wg.Wait()
	for i := range n {
		id := fmt.Sprintf("upload-%03d", i)
		_, gerr := s.GetUpload(ctx, id)
		switch i % 4 {
		case 0:
			if errs[i] != nil || gerr != nil {
				t.Fatalf("%s: CreateUpload = %v, GetUpload = %v", id, errs[i], gerr)
			}
		case 1:
			if !errors.Is(errs[i], store.ErrRepositoryNotFound) || !errors.Is(gerr, store.ErrUploadNotFound) {
				t.Fatalf("%s (no repository): CreateUpload = %v, GetUpload = %v", id, errs[i], gerr)
			}
		case 2:
			_, gerr2 := s.GetUpload(ctx, id+"-b")
			if !errors.Is(errs[i], errTest) || !errors.Is(gerr, store.ErrUploadNotFound) || !errors.Is(gerr2, store.ErrUploadNotFound) {
				t.Fatalf("%s (failing): write = %v, GetUpload = %v, %v", id, errs[i], gerr, gerr2)
			}
		case 3:
			if !errors.Is(errs[i], context.Canceled) || !errors.Is(gerr, store.ErrUploadNotFound) {
				t.Fatalf("%s (cancelled): CreateUpload = %v, GetUpload = %v", id, errs[i], gerr)
			}
		}
	}
}

var errTest = errors.New("test: the request's own failure")

// A write that panics fails alone, as an error; the writers around it go on, and the store
// keeps taking writes.
func TestGroupCommitSurvivesAPanickingWrite(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	repo, _ := s.CreateRepository(ctx, "111122223333", "team/app")
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%10 == 0 {
				errs[i] = s.write(ctx, func(tx *sql.Tx) error { panic("boom") })
				return
			}
			errs[i] = s.CreateUpload(ctx, store.Upload{ID: fmt.Sprint("u", i), RepositoryID: repo.ID})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i%10 == 0 {
			if err == nil || !strings.Contains(err.Error(), "panicked: boom") {
				t.Errorf("panicking write %d: %v", i, err)
			}
		} else if err != nil {
			t.Errorf("write %d beside a panicking one: %v", i, err)
		}
	}
	if err := s.CreateUpload(ctx, store.Upload{ID: "after", RepositoryID: repo.ID}); err != nil {
		t.Fatalf("write after the panics: %v", err)
	}
}

// BenchmarkGroupCommit: CreateUpload from 16 concurrent callers (a small push's first
// write), so that transactions can be shared.
func BenchmarkGroupCommit(b *testing.B) {
	s, err := OpenOptions(filepath.Join(b.TempDir(), "meta.db"), Options{Synchronous: "NORMAL"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	repo, _ := s.CreateRepository(ctx, "111122223333", "r")
	var mu sync.Mutex
	i := 0
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i++
			id := fmt.Sprint("u", i)
			mu.Unlock()
			if err := s.CreateUpload(ctx, store.Upload{ID: id, RepositoryID: repo.ID}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
