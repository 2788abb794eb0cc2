package sqlite

// Deferred blob links (Options.DeferLinks)
//
// Linking a pushed blob to its repository is the metadata write of every layer push. In a
// transaction of its own, or shared with the one or two links that arrived meanwhile, it
// took about a sixth of a small push's server CPU: the transaction, not the rows, is the
// cost. With DeferLinks, LinkUploadedBlob without an upload session appends the link to the
// link log instead (a file beside the database, DATABASE-links), keeps it in memory and
// returns. One write(2) puts the record in the kernel's page cache, where a
// synchronous=NORMAL commit also lives, so it survives a killed process as such a commit
// does; DeferLinks is for databases run that way.
//
// The links reach the tables first thing in the next write transaction, whatever that is
// for, or else in a transaction of their own linkApplyDelay later: many links in one
// transaction. Every write therefore sees them in the tables (a manifest that lists the
// blob, an unlink, a repository's deletion, the collector's confirmation), and this store's
// reads see them at once (StatBlob and BlobReferenced look at the pending links first;
// PendingGC applies them before it reads).
//
// Every record carries a sequence number, and the transaction that applies records stores
// the highest one applied (table link_log, created by Open: PostgreSQL has no use for it),
// so a record is applied exactly once. Open applies the records beyond that number that a
// killed process left; a second process on the same database (coffer gc beside coffer
// serve) may do so too without harm. Only the process holding the log's lock (flock)
// appends to it, and it empties the log whenever every record in it has been applied.
//
// A link into a repository that was deleted between the call and the transaction is dropped
// and its blob queued for review, as if the link had come just before the deletion.

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
)

const (
	// linkApplyDelay is how long deferred links wait for a write transaction to carry
	// them before they get one of their own.
	linkApplyDelay = 10 * time.Millisecond
	// linkLogLimit is the log size from which new links are written synchronously until
	// the log is emptied: under a steady stream of pushes the pending list is rarely empty
	// when a transaction ends, and the first transaction after the log filled up applies
	// all of it. About 38,000 links of 111 bytes.
	linkLogLimit = 4 << 20
	// maxLinkDigest bounds a record's digest ("sha512:" and 128 hex digits is 135 bytes).
	maxLinkDigest = 255
	// linkRecordFixed is a record's size without its digest: length, sequence number,
	// repository id, size, time, checksum.
	linkRecordFixed = 4 + 4*8 + 4
)

// linkLockWait is how long a store that defers links waits for the log's lock, which
// another process that opens the database without deferring (coffer gc) holds for as long
// as its Open takes.
var linkLockWait = 5 * time.Second

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errNoLinkLog: this store does not defer links (another process holds the log, or the
// log failed); the caller links synchronously.
var errNoLinkLog = errors.New("sqlite: no link log")

// linkRecord is one deferred link.
type linkRecord struct {
	seq    uint64
	repo   int64
	size   int64
	at     int64 // unix milliseconds
	digest digest.Digest
}

type linkKey struct {
	repo   int64
	digest digest.Digest
}

// pendingLink is the newest pending record of a (repository, digest).
type pendingLink struct {
	size int64
	seq  uint64
}

// linkLog holds the deferred links of a store: the file and the records not yet applied.
type linkLog struct {
	mu      sync.Mutex
	f       *os.File // the log, locked by this process; nil: links are not deferred
	size    int64    // bytes in f
	limit   int64    // see linkLogLimit
	next    uint64   // sequence number of the next record
	pending []linkRecord
	index   map[linkKey]pendingLink
	digests map[digest.Digest]int       // pending records per digest
	repos   map[int64]struct{}          // repositories known to exist
	buf     []byte                      // encoding buffer, under mu
	apply   func(context.Context) error // a write transaction (which applies the pending links)

	wake     chan struct{} // the applier: links are pending
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

func newLinkLog() *linkLog {
	return &linkLog{
		limit:   linkLogLimit,
		index:   map[linkKey]pendingLink{},
		digests: map[digest.Digest]int{},
		repos:   map[int64]struct{}{},
	}
}

// appendLinkRecord encodes r at the end of b: the body's length, the body (sequence number,
// repository, size, time, digest) and the body's CRC-32C.
func appendLinkRecord(b []byte, r linkRecord) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(4*8+len(r.digest)))
	start := len(b)
	b = binary.LittleEndian.AppendUint64(b, r.seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(r.repo))
	b = binary.LittleEndian.AppendUint64(b, uint64(r.size))
	b = binary.LittleEndian.AppendUint64(b, uint64(r.at))
	b = append(b, r.digest...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// parseLinkRecords decodes the records at the start of b and returns them with the length
// of b they cover. It stops at the first record that is cut short or does not check out
// (the tail of a write a crash interrupted).
func parseLinkRecords(b []byte) ([]linkRecord, int) {
	var out []linkRecord
	valid := 0
	for rest := b; len(rest) >= linkRecordFixed; {
		n := int(binary.LittleEndian.Uint32(rest))
		if n < 4*8+1 || n > 4*8+maxLinkDigest || len(rest) < 4+n+4 {
			break
		}
		body := rest[4 : 4+n]
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(rest[4+n:]) {
			break
		}
		r := linkRecord{
			seq:    binary.LittleEndian.Uint64(body),
			repo:   int64(binary.LittleEndian.Uint64(body[8:])),
			size:   int64(binary.LittleEndian.Uint64(body[16:])),
			at:     int64(binary.LittleEndian.Uint64(body[24:])),
			digest: digest.Digest(body[32:]),
		}
		if !digest.DigestRegexpAnchored.MatchString(string(r.digest)) { // format only: whether
			break // the algorithm is linked into this binary does not matter here
		}
		out = append(out, r)
		rest = rest[4+n+4:]
		valid = len(b) - len(rest)
	}
	return out, valid
}

// openLinkLog opens the link log at path, takes its lock when no other process holds it
// (trying for up to wait), and returns the records it holds. Without the lock the log is
// only read. A missing log is created only for a store that defers links (create).
func openLinkLog(path string, create bool, wait time.Duration) (l *linkLog, recs []linkRecord, err error) {
	l = newLinkLog()
	flags := os.O_RDWR | os.O_APPEND
	if create {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if !create && errors.Is(err, os.ErrNotExist) {
		return l, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: link log: %w", err)
	}
	owned, err := tryLock(f, wait)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("sqlite: link log: %w", err)
	}
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("sqlite: link log: %w", err)
	}
	recs, valid := parseLinkRecords(data)
	if !owned {
		f.Close()
		return l, recs, nil
	}
	if valid < len(data) {
		// Records appended later must not follow a torn one, which would hide them.
		if err := f.Truncate(int64(valid)); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("sqlite: link log: %w", err)
		}
	}
	l.f, l.size = f, int64(valid)
	return l, recs, nil
}

// restore makes recs pending and sets the next sequence number past them and applied.
func (l *linkLog) restore(recs []linkRecord, applied uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next = applied + 1
	for _, r := range recs {
		if r.seq >= l.next {
			l.next = r.seq + 1
		}
		if r.seq > applied {
			l.addPending(r)
		}
	}
}

// deferring reports whether links are appended to the log.
func (l *linkLog) deferring() bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f != nil
}

// add appends a link to the log and to the pending list. An error (errNoLinkLog when the
// log is full or not this process's) means the caller must link synchronously.
func (l *linkLog) add(repo int64, d digest.Digest, size, at int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil || l.size >= l.limit {
		return errNoLinkLog
	}
	r := linkRecord{seq: l.next, repo: repo, size: size, at: at, digest: d}
	l.buf = appendLinkRecord(l.buf[:0], r)
	if n, err := l.f.Write(l.buf); err != nil {
		// A record cut short would hide every later one from Open: cut it off, or stop
		// using the log.
		if n > 0 && l.f.Truncate(l.size) != nil {
			l.abandon(err)
		}
		return fmt.Errorf("sqlite: link log: %w", err)
	}
	l.next++
	l.size += int64(len(l.buf))
	l.addPending(r)
	if len(l.pending) == 1 {
		l.signal()
	}
	return nil
}

// abandon stops deferring after the log failed; pending links stay pending (they are applied
// by the next write, and Open finds them in the log). Called with mu held.
func (l *linkLog) abandon(err error) {
	slog.Error("sqlite: the link log failed; blob links are written synchronously from now on", "err", err)
	l.f.Close()
	l.f = nil
}

func (l *linkLog) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// addPending records r as pending. Called with mu held.
func (l *linkLog) addPending(r linkRecord) {
	l.pending = append(l.pending, r)
	l.index[linkKey{r.repo, r.digest}] = pendingLink{size: r.size, seq: r.seq}
	l.digests[r.digest]++
}

// snapshot returns the pending links, oldest first. Only the writer applies them, so they
// stay at the front of the list until it calls applied.
func (l *linkLog) snapshot() []linkRecord {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pending[:len(l.pending):len(l.pending)]
}

// applied drops the first n pending links, which a committed transaction applied, and
// empties the log when nothing in it is pending any more.
func (l *linkLog) applied(n int) {
	if l == nil || n == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.pending[:n] {
		k := linkKey{r.repo, r.digest}
		if p, ok := l.index[k]; ok && p.seq == r.seq {
			delete(l.index, k)
		}
		if l.digests[r.digest]--; l.digests[r.digest] <= 0 {
			delete(l.digests, r.digest)
		}
	}
	l.pending = append(l.pending[:0], l.pending[n:]...)
	if len(l.pending) == 0 && l.f != nil && l.size > 0 {
		if err := l.f.Truncate(0); err != nil {
			l.abandon(err)
			return
		}
		l.size = 0
	}
}

// lookup returns the size of a pending link of d in repo.
func (l *linkLog) lookup(repo int64, d digest.Digest) (int64, bool) {
	if l == nil {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.index[linkKey{repo, d}]
	return p.size, ok
}

// referenced reports whether a pending link names d.
func (l *linkLog) referenced(d digest.Digest) bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.digests[d] > 0
}

// count returns how many links are pending.
func (l *linkLog) count() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending)
}

// knownRepository reports whether repo is known to exist; remember and forget maintain it.
func (l *linkLog) knownRepository(repo int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.repos[repo]
	return ok
}

func (l *linkLog) remember(repo int64) {
	l.mu.Lock()
	l.repos[repo] = struct{}{}
	l.mu.Unlock()
}

func (l *linkLog) forget(repo int64) {
	if l == nil {
		return
	}
	l.mu.Lock()
	delete(l.repos, repo)
	l.mu.Unlock()
}

// start runs the applier: pending links get a transaction linkApplyDelay after they
// appear, unless a write carries them first.
func (l *linkLog) start() {
	l.wake = make(chan struct{}, 1)
	l.stop = make(chan struct{})
	l.done = make(chan struct{})
	go l.run()
}

func (l *linkLog) run() {
	defer close(l.done)
	delay := linkApplyDelay
	for {
		select {
		case <-l.wake:
		case <-l.stop:
			return
		}
		for l.count() > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-l.stop:
				t.Stop()
				return
			}
			if l.count() == 0 {
				break
			}
			if err := l.apply(context.Background()); err != nil {
				slog.Error("sqlite: applying deferred blob links", "pending", l.count(), "err", err)
				delay = min(2*delay, time.Second)
				continue
			}
			delay = linkApplyDelay
		}
	}
}

// close stops the applier, applies what is pending, and empties the log when nothing in it
// is pending.
func (l *linkLog) close() error {
	if l == nil {
		return nil
	}
	l.stopOnce.Do(func() {
		if l.stop != nil {
			close(l.stop)
			<-l.done
		}
	})
	var err error
	if l.count() > 0 {
		err = l.apply(context.Background())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		// Emptied, not removed: a process waiting for the lock holds the file open, and would
		// otherwise get a lock on a file no longer at path and write links nobody reads.
		if len(l.pending) == 0 && l.size > 0 {
			l.f.Truncate(0)
		}
		l.f.Close() // and its lock
		l.f = nil
	}
	return err
}

// applyLinks writes the pending links in tx, first thing in every write transaction, and
// returns how many it took (for applied, once tx commits). Records that another process
// applied already (their sequence number is not above link_log's) are skipped.
func (s *Store) applyLinks(ctx context.Context, tx *sql.Tx) (int, error) {
	recs := s.links.snapshot()
	if len(recs) == 0 {
		return 0, nil
	}
	fail := func(err error) (int, error) {
		return 0, fmt.Errorf("sqlite: applying deferred blob links: %w", err)
	}
	var applied int64
	if err := tx.QueryRowContext(ctx, `SELECT applied FROM link_log`).Scan(&applied); err != nil {
		return fail(err)
	}
	link := tx.StmtContext(ctx, s.wstmts.linkBlob)
	last := applied
	for _, r := range recs {
		if int64(r.seq) <= applied {
			continue
		}
		_, err := link.ExecContext(ctx, r.repo, r.digest.String(), r.size, r.at)
		if err != nil && !isForeignKeyError(err) { // a deleted repository: only the review
			return fail(err)
		}
		if err := s.queue(ctx, tx, r.digest, 0, false, r.at+s.reviewDelay.Milliseconds()); err != nil {
			return fail(err)
		}
		last = int64(r.seq)
	}
	if last > applied {
		if _, err := tx.ExecContext(ctx, `UPDATE link_log SET applied = $1`, last); err != nil {
			return fail(err)
		}
	}
	return len(recs), nil
}
