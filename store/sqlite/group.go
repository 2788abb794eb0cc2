package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"runtime/debug"
	"sync"
)

// maxBatch bounds how many write transactions one commit carries.
const maxBatch = 64

// groupCommit lets concurrent write transactions share one SQLite transaction (group
// commit). SQLite has one writer at a time; under concurrent pushes every request used to
// wait for the ones before it to BEGIN, run and COMMIT in turn. Now the requests that arrive
// while a transaction runs are queued, and the next of them runs them all in one
// transaction, each inside its own savepoint: a request whose work fails is rolled back to
// its savepoint alone and gets its own error; the others commit together. A request
// returns only after the transaction that carried it committed (or failed).
type groupCommit struct {
	mu    sync.Mutex
	busy  bool // a batch is running or assigned
	queue []*writeReq
}

type writeReq struct {
	ctx   context.Context
	fn    func(tx *sql.Tx) error
	err   error
	done  chan struct{} // signalled once: the request ran, or it is to run batch
	batch []*writeReq   // set when this request leads the next batch (it is batch[0])
}

// write runs fn in a write transaction, possibly together with other requests' functions,
// and returns fn's error or the commit's.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan struct{}, 1)}
	g := &s.group
	g.mu.Lock()
	if g.busy {
		g.queue = append(g.queue, req)
		g.mu.Unlock()
		<-req.done
		if req.batch == nil {
			return req.err
		}
	} else {
		g.busy = true
		g.mu.Unlock()
		req.batch = []*writeReq{req}
	}
	batch := req.batch
	s.runBatch(batch)

	// Hand the queue to its first request, then wake the others of this batch.
	g.mu.Lock()
	next := g.queue
	if len(next) > maxBatch {
		g.queue = next[maxBatch:]
		next = next[:maxBatch:maxBatch]
	} else {
		g.queue = nil
	}
	if len(next) == 0 {
		g.busy = false
	}
	g.mu.Unlock()
	if len(next) > 0 {
		next[0].batch = next
		next[0].done <- struct{}{}
	}
	for _, r := range batch[1:] {
		r.done <- struct{}{}
	}
	return req.err
}

// runBatch runs the requests in one transaction and sets each one's err.
func (s *Store) runBatch(batch []*writeReq) {
	if len(batch) == 1 {
		r := batch[0]
		r.err = s.runTx(r.ctx, r.fn)
		return
	}
	// The transaction serves several requests: no single request's context may cancel it.
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		err = fmt.Errorf("sqlite: begin: %w", err)
	}
	var links int
	if err == nil {
		if links, err = s.applyLinks(context.Background(), tx); err != nil {
			tx.Rollback()
		}
	}
	if err != nil {
		for _, r := range batch {
			r.err = err
		}
		return
	}
	exec := func(st *sql.Stmt, q string) error {
		var err error
		if st != nil {
			_, err = tx.Stmt(st).Exec()
		} else {
			_, err = tx.Exec(q)
		}
		return err
	}
	abort := func(err error) {
		tx.Rollback()
		for _, r := range batch {
			if r.err == nil {
				r.err = fmt.Errorf("sqlite: transaction aborted: %w", err)
			}
		}
	}
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if err := exec(s.wstmts.savepoint, sqlSavepoint); err != nil {
			abort(err)
			return
		}
		if err := call(r.fn, tx); err != nil {
			r.err = err
			// A failed statement leaves the transaction open (SQLite rolls back on its own
			// only after I/O, full-disk or memory errors); if it did not, rolling back to
			// the savepoint fails and the whole batch fails rather than commit half of it.
			if rerr := exec(s.wstmts.rollbackTo, sqlRollbackTo); rerr != nil {
				abort(rerr)
				return
			}
		}
		if err := exec(s.wstmts.release, sqlRelease); err != nil {
			abort(err)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		for _, r := range batch {
			if r.err == nil {
				r.err = fmt.Errorf("sqlite: commit: %w", err)
			}
		}
		return
	}
	s.links.applied(links)
}

const (
	sqlSavepoint  = `SAVEPOINT request`
	sqlRollbackTo = `ROLLBACK TO request`
	sqlRelease    = `RELEASE request`
)

// runTx runs fn in one write transaction of its own.
func (s *Store) runTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	links, err := s.applyLinks(ctx, tx)
	if err != nil {
		tx.Rollback()
		return err
	}
	if err := call(fn, tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	s.links.applied(links)
	return nil
}

// call runs fn, turning a panic into an error: fn may be another request's, and a panic
// must neither end the goroutine that carries the batch (the others would wait forever) nor
// leave the transaction open.
func call(fn func(tx *sql.Tx) error, tx *sql.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlite: a write panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(tx)
}
