package iamsql

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-registry/coffer/iam"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Config is what the wiring hands to Open.
type Config struct {
	// DBPath is the SQLite database file, e.g. DATA/iam.db.
	DBPath string
	// KeyPath is the secrets-at-rest key file, e.g. DATA/iam.key; created 0600 if missing.
	KeyPath string
	// ValidatePolicy checks a policy document of a given kind; the wiring sets it to the policy engine.
	// An *iam.Error is returned as it is; an error with a Code() string method (the policy engine's
	// MalformedError and SizeError) keeps that code; any other error becomes MalformedPolicyDocument.
	ValidatePolicy func(doc string, kind iam.PolicyKind) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnChange, if set, is called after every committed write that moves the generation, with the
	// current generation. Calls may overlap when writes do; treat the value as "at least this".
	OnChange func(generation uint64)
}

// Service is the identity store. It is safe for concurrent use.
type Service struct {
	writer   *sql.DB // BEGIN IMMEDIATE transactions: one writer at a time
	reader   *sql.DB // deferred transactions for reads
	sealer   *iam.Sealer
	validate func(doc string, kind iam.PolicyKind) error
	now      func() time.Time
	onChange func(uint64)

	generation atomic.Uint64
	creds      sync.Map // access key id -> *iam.Credential, valid while its Generation is current
	policies   sync.Map // principal cache key -> *iam.PolicySet
	keyUse     sync.Map // access key id -> time.Time of the last persisted use
}

// Open opens (creating if needed) the database and the key file and runs pending migrations.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.DBPath == "" || cfg.KeyPath == "" {
		return nil, errors.New("iamsql: DBPath and KeyPath are required")
	}
	if cfg.ValidatePolicy == nil {
		return nil, errors.New("iamsql: ValidatePolicy is required")
	}
	key, err := iam.LoadOrCreateKey(cfg.KeyPath)
	if err != nil {
		return nil, err
	}
	sealer, err := iam.NewSealer(key)
	if err != nil {
		return nil, err
	}
	writer, err := sql.Open("sqlite", dsn(cfg.DBPath, "immediate"))
	if err != nil {
		return nil, err
	}
	writer.SetMaxOpenConns(1)
	reader, err := sql.Open("sqlite", dsn(cfg.DBPath, "deferred"))
	if err != nil {
		writer.Close()
		return nil, err
	}
	s := &Service{writer: writer, reader: reader, sealer: sealer, validate: cfg.ValidatePolicy, now: cfg.Now, onChange: cfg.OnChange}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := reader.QueryRowContext(ctx, `SELECT value FROM iam_generation WHERE id = 1`).Scan(new(int64)); err != nil {
		s.Close()
		return nil, err
	}
	if _, err := s.SyncGeneration(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func dsn(path, txlock string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", txlock)
	return "file:" + path + "?" + q.Encode()
}

// Close releases the database handles.
func (s *Service) Close() error {
	return errors.Join(s.writer.Close(), s.reader.Close())
}

// migrate applies the embedded migrations not yet recorded in iam_schema_migrations.
func (s *Service) migrate(ctx context.Context) error {
	if _, err := s.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS iam_schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at BIGINT  NOT NULL)`); err != nil {
		return fmt.Errorf("iamsql: migrations table: %w", err)
	}
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("iamsql: migration %s: name must start with a number", base)
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return err
		}
		err = inTx(ctx, s.writer, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM iam_schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil { // SQLite runs every statement of the file
				return fmt.Errorf("iamsql: migration %s: %w", base, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO iam_schema_migrations (version, applied_at) VALUES ($1, $2)`, version, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// write runs fn in one immediate transaction and moves the generation forward when it commits.
// A failing fn leaves nothing behind.
func (s *Service) write(ctx context.Context, fn func(*sql.Tx) error) error {
	var gen uint64
	err := inTx(ctx, s.writer, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		var v int64
		if err := tx.QueryRowContext(ctx, `UPDATE iam_generation SET value = value + 1 WHERE id = 1 RETURNING value`).Scan(&v); err != nil {
			return err
		}
		gen = uint64(v)
		return nil
	})
	if err != nil {
		return err
	}
	s.advance(gen)
	return nil
}

// writeAdditive runs fn in one immediate transaction without moving the generation. It is for
// writes that cannot change any answer already given (issuing a new session, whose id nobody has
// looked up yet; removing sessions that have already expired), so caches stay warm under STS load.
func (s *Service) writeAdditive(ctx context.Context, fn func(*sql.Tx) error) error {
	return inTx(ctx, s.writer, fn)
}

// read runs fn in one deferred (snapshot) transaction.
func (s *Service) read(ctx context.Context, fn func(*sql.Tx) error) error {
	return inTx(ctx, s.reader, fn)
}

func (s *Service) advance(gen uint64) {
	for {
		cur := s.generation.Load()
		if gen <= cur {
			return
		}
		if s.generation.CompareAndSwap(cur, gen) {
			break
		}
	}
	// Entries of older generations can never be served again; drop them so the caches stay small.
	s.creds.Clear()
	s.policies.Clear()
	if s.onChange != nil {
		s.onChange(s.generation.Load())
	}
}

// Generation moves forward on every committed write by this process that can change an answer
// already given (and on SyncGeneration).
// Results of the lookup methods carry the generation they were read at; a cache entry is good while
// its generation equals Generation().
func (s *Service) Generation() uint64 { return s.generation.Load() }

// SyncGeneration reads the generation stored in the database, so that writes made by other
// processes sharing the database become visible to Generation; call it periodically in scale-out.
func (s *Service) SyncGeneration(ctx context.Context) (uint64, error) {
	var v int64
	if err := s.reader.QueryRowContext(ctx, `SELECT value FROM iam_generation WHERE id = 1`).Scan(&v); err != nil {
		return 0, err
	}
	s.advance(uint64(v))
	return s.Generation(), nil
}

// checkPolicy runs the API-level checks and the configured validator on a document.
func (s *Service) checkPolicy(field, doc string, kind iam.PolicyKind) error {
	var v iam.Validation
	v.PolicyDocument(field, doc)
	if err := v.Err(); err != nil {
		return err
	}
	if err := s.validate(doc, kind); err != nil {
		var e *iam.Error
		if errors.As(err, &e) {
			return e
		}
		var coded interface{ Code() string }
		if errors.As(err, &coded) && coded.Code() != "" {
			return &iam.Error{Code: coded.Code(), Message: err.Error()}
		}
		return iam.Malformed(err.Error())
	}
	return nil
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// nowMS is the service clock in unix milliseconds.
func (s *Service) nowMS() int64 { return s.now().UnixMilli() }

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is a row to read: *sql.Row or *sql.Rows.
type scanner = interface{ Scan(...any) error }

// queryAll runs query and reads each row with scan. The rows are closed when it returns, so
// the caller may query again in the same transaction.
func queryAll[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func count(ctx context.Context, q querier, query string, args ...any) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}
