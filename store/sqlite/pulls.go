package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/coffer-registry/coffer/store"
	"github.com/opencontainers/go-digest"
)

// MarkPulled records a pull time in memory; a background flusher writes the batch (one
// transaction per interval), and Close writes what is left. Reads of this store see the
// pending times at once.
func (s *Store) MarkPulled(ctx context.Context, repoID int64, d digest.Digest, at time.Time) error {
	s.pulls.mark(pullKey{repoID, d}, at)
	return nil
}

type pullKey struct {
	repo   int64
	digest digest.Digest
}

type pullBatcher struct {
	s       *Store
	mu      sync.RWMutex
	pending map[pullKey]time.Time
	stopc   chan struct{}
	done    chan error
	once    sync.Once
	err     error
}

func startPullBatcher(s *Store, every time.Duration) *pullBatcher {
	b := &pullBatcher{s: s, pending: map[pullKey]time.Time{}, stopc: make(chan struct{}), done: make(chan error, 1)}
	go b.run(every)
	return b
}

func (b *pullBatcher) run(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.flush(context.Background())
		case <-b.stopc:
			b.done <- b.flush(context.Background())
			return
		}
	}
}

// stop flushes and ends the flusher; later calls return the first result.
func (b *pullBatcher) stop() error {
	b.once.Do(func() {
		close(b.stopc)
		b.err = <-b.done
	})
	return b.err
}

func (b *pullBatcher) mark(k pullKey, at time.Time) {
	b.mu.Lock()
	if at.After(b.pending[k]) {
		b.pending[k] = at
	}
	b.mu.Unlock()
}

func (b *pullBatcher) overlay(repoID int64, m *store.Manifest) {
	b.mu.RLock()
	at, ok := b.pending[pullKey{repoID, m.Digest}]
	b.mu.RUnlock()
	if ok && at.After(m.LastPulledAt) {
		m.LastPulledAt = millis(at.UnixMilli())
	}
}

// flush writes the pending pull times in one transaction. On failure they are kept for the
// next attempt.
func (b *pullBatcher) flush(ctx context.Context) error {
	b.mu.Lock()
	batch := b.pending
	b.pending = map[pullKey]time.Time{}
	b.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := b.s.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE manifests SET last_pulled_at = $3
			WHERE repository_id = $1 AND digest = $2 AND (last_pulled_at IS NULL OR last_pulled_at < $3)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for k, at := range batch {
			if _, err := st.ExecContext(ctx, k.repo, k.digest.String(), at.UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for k, at := range batch {
			b.mark(k, at)
		}
	}
	return err
}
