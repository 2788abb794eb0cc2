// Package sqlite is the embedded metadata store: store.Store on one SQLite file in WAL mode,
// with versioned migrations written in SQL that PostgreSQL also accepts (but for 004, which
// also changes how SQLite lays out two tables).
//
// Connections: one writer connection (every write is a BEGIN IMMEDIATE transaction, so
// writers queue in Go instead of failing with SQLITE_BUSY) and a small pool of read-only
// connections that WAL lets run beside the writer. busy_timeout covers a second process on
// the same file (coffer gc next to coffer serve).
//
// Durability: synchronous=FULL by default. WAL with synchronous=NORMAL already survives a
// killed process (a committed transaction is in the WAL file, in the kernel's page cache),
// but may lose the last transactions on power loss. The blob store fsyncs every blob before
// it is acknowledged, so the metadata does the same: an acknowledged manifest survives
// power loss too. Options.Synchronous = "NORMAL" trades that for write latency, and
// Options.DeferLinks, for such a database, batches pushed blobs' links (links.go).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-registry/coffer/store"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune a Store. The zero value means the defaults.
type Options struct {
	// ReviewDelay is the grace period of garbage collection: how long after a blob was
	// linked, a manifest untagged, or a reference dropped, its review waits. Zero means the
	// default, 24h; a negative value means no delay at all (for tests).
	ReviewDelay time.Duration
	// PullFlushInterval is how often batched pull times are written. Default 30s.
	PullFlushInterval time.Duration
	// Synchronous is SQLite's synchronous setting: "FULL" (default) or "NORMAL".
	Synchronous string
	// Readers is the size of the read pool. Default: 2 × GOMAXPROCS, at least 4.
	Readers int
	// Clock replaces time.Now for the times the store records and compares (tests).
	Clock func() time.Time
	// DeferLinks appends the links of pushed blobs to a log beside the database and
	// applies them to the tables in batches (see links.go). It suits synchronous=NORMAL,
	// whose commits the log's writes are as durable as.
	DeferLinks bool
}

// Store is the SQLite metadata store.
type Store struct {
	w, r        *sql.DB
	reviewDelay time.Duration
	now         func() time.Time
	stmts       readStatements
	wstmts      writeStatements
	group       groupCommit
	pulls       *pullBatcher
	links       *linkLog // nil until Open has applied the link log
}

var _ store.Store = (*Store)(nil)

// Open opens (creating when needed) the database at path with default options.
func Open(path string) (*Store, error) { return OpenOptions(path, Options{}) }

// OpenOptions opens the database at path and applies pending migrations.
func OpenOptions(path string, o Options) (*Store, error) {
	switch {
	case o.ReviewDelay == 0:
		o.ReviewDelay = 24 * time.Hour
	case o.ReviewDelay < 0:
		o.ReviewDelay = 0
	}
	if o.PullFlushInterval <= 0 {
		o.PullFlushInterval = 30 * time.Second
	}
	switch strings.ToUpper(o.Synchronous) {
	case "":
		o.Synchronous = "FULL"
	case "FULL", "NORMAL":
	default:
		return nil, fmt.Errorf("sqlite: synchronous must be FULL or NORMAL, not %q", o.Synchronous)
	}
	if o.Readers <= 0 {
		o.Readers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	pragmas := []string{
		"busy_timeout(10000)",
		"journal_mode(WAL)",
		"synchronous(" + strings.ToUpper(o.Synchronous) + ")",
		"foreign_keys(1)",
	}
	dsn := func(txlock string, extra ...string) string {
		q := url.Values{}
		for _, p := range append(pragmas, extra...) {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", txlock)
		return "file:" + path + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn("immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w, reviewDelay: o.ReviewDelay, now: time.Now}
	if o.Clock != nil {
		s.now = o.Clock
	}
	if err := s.migrate(context.Background()); err != nil {
		w.Close()
		return nil, err
	}
	if err := s.wstmts.prepare(w); err != nil {
		w.Close()
		return nil, err
	}
	// Readers begin deferred: BEGIN IMMEDIATE would take the write lock.
	r, err := sql.Open("sqlite", dsn("deferred", "query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	r.SetMaxOpenConns(o.Readers)
	r.SetMaxIdleConns(o.Readers)
	r.SetConnMaxIdleTime(0)
	s.r = r
	if err := s.stmts.prepare(r); err != nil {
		s.w.Close()
		s.r.Close()
		return nil, err
	}
	if err := s.openLinks(path+"-links", o.DeferLinks); err != nil {
		s.w.Close()
		s.r.Close()
		return nil, err
	}
	s.pulls = startPullBatcher(s, o.PullFlushInterval)
	return s, nil
}

// openLinks applies what the link log holds beyond the last applied record, and keeps the
// log (and its lock) for deferred links when deferLinks is set and no other process has it.
func (s *Store) openLinks(path string, deferLinks bool) error {
	ctx := context.Background()
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS link_log (applied BIGINT NOT NULL)`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO link_log (applied) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM link_log)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: link log table: %w", err)
	}
	wait := time.Duration(0) // a store that does not defer takes the log only when it is free
	if deferLinks {
		wait = linkLockWait
	}
	l, recs, err := openLinkLog(path, deferLinks, wait)
	if err != nil {
		return err
	}
	var applied int64
	if err := s.w.QueryRowContext(ctx, `SELECT applied FROM link_log`).Scan(&applied); err != nil {
		l.close()
		return fmt.Errorf("sqlite: link log: %w", err)
	}
	l.restore(recs, uint64(applied))
	l.apply = func(ctx context.Context) error { return s.write(ctx, func(*sql.Tx) error { return nil }) }
	s.links = l
	if l.count() > 0 {
		if err := l.apply(ctx); err != nil {
			l.close()
			return fmt.Errorf("sqlite: applying the link log: %w", err)
		}
	}
	if !deferLinks {
		return l.close()
	}
	if l.deferring() {
		l.start()
	}
	return nil
}

// Close applies deferred links, flushes pending pull times and closes the database.
func (s *Store) Close() error {
	err := s.links.close()
	if perr := s.pulls.stop(); err == nil {
		err = perr
	}
	s.stmts.close()
	s.wstmts.close()
	if rerr := s.r.Close(); err == nil {
		err = rerr
	}
	if werr := s.w.Close(); err == nil {
		err = werr
	}
	return err
}

// migrate applies the embedded migrations that schema_migrations does not list yet, each in
// its own transaction together with its row in schema_migrations.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT PRIMARY KEY,
		name       TEXT   NOT NULL,
		applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: migrations table: %w", err)
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		base := strings.TrimSuffix(strings.TrimPrefix(f, "migrations/"), ".sql")
		num, name, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("sqlite: migration file %s is not named NNN_name.sql", f)
		}
		body, err := migrations.ReadFile(f)
		if err != nil {
			return err
		}
		err = s.write(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				version, name, s.now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", f, err)
		}
	}
	return nil
}

// SchemaVersion returns the highest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
	return int(v.Int64), err
}

// readStatements are the prepared statements of the hot read paths.
type readStatements struct {
	resolveTag, getManifest, statBlob, getRepository, getUpload *sql.Stmt
}

const manifestColumns = `m.digest, m.media_type, m.artifact_type, m.size, m.payload, m.subject, m.annotations, m.pushed_at, m.last_pulled_at`

func (p *readStatements) prepare(db *sql.DB) error {
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = db.Prepare(q)
		return st
	}
	p.resolveTag = prep(`SELECT ` + manifestColumns + ` FROM tags t
		JOIN manifests m ON m.repository_id = t.repository_id AND m.digest = t.digest
		WHERE t.repository_id = $1 AND t.name = $2`)
	p.getManifest = prep(`SELECT ` + manifestColumns + ` FROM manifests m WHERE m.repository_id = $1 AND m.digest = $2`)
	p.statBlob = prep(`SELECT size FROM repository_blobs WHERE repository_id = $1 AND digest = $2`)
	p.getRepository = prep(`SELECT ` + repositoryColumns + ` FROM repositories WHERE account = $1 AND name = $2`)
	p.getUpload = prep(`SELECT repository_id, started_at, parts, short_part FROM uploads WHERE id = $1`)
	if err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	return nil
}

// writeStatements are the statements every pushed blob runs, prepared once on the writer
// connection (parsing SQL costs more than running these small statements). Use them in a
// transaction through tx.StmtContext.
type writeStatements struct {
	repositoryExists, linkBlob, queue, insertUpload, deleteUpload *sql.Stmt
	savepoint, rollbackTo, release                                *sql.Stmt
}

func (p *writeStatements) prepare(db *sql.DB) error {
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = db.Prepare(q)
		return st
	}
	p.repositoryExists = prep(`SELECT COUNT(*) FROM repositories WHERE id = $1`)
	p.linkBlob = prep(`INSERT INTO repository_blobs (repository_id, digest, size, linked_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (repository_id, digest) DO UPDATE SET linked_at = excluded.linked_at, size = excluded.size`)
	p.queue = prep(`INSERT INTO gc_review_queue (digest, repository_id, is_manifest, review_after, lease_until)
		VALUES ($1, $2, $3, $4, 0)
		ON CONFLICT (is_manifest, repository_id, digest) DO UPDATE SET review_after = excluded.review_after
		WHERE gc_review_queue.review_after < excluded.review_after`)
	p.insertUpload = prep(`INSERT INTO uploads (id, repository_id, started_at) VALUES ($1, $2, $3)`)
	p.deleteUpload = prep(`DELETE FROM uploads WHERE id = $1`)
	p.savepoint = prep(sqlSavepoint)
	p.rollbackTo = prep(sqlRollbackTo)
	p.release = prep(sqlRelease)
	if err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	return nil
}

func (p *writeStatements) close() {
	for _, st := range []*sql.Stmt{p.repositoryExists, p.linkBlob, p.queue, p.insertUpload, p.deleteUpload,
		p.savepoint, p.rollbackTo, p.release} {
		if st != nil {
			st.Close()
		}
	}
}

func (p *readStatements) close() {
	for _, st := range []*sql.Stmt{p.resolveTag, p.getManifest, p.statBlob, p.getRepository, p.getUpload} {
		if st != nil {
			st.Close()
		}
	}
}

func millis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func nullMillis(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return millis(v.Int64)
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
