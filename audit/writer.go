package audit

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Defaults of Config.
const (
	DefaultMaxFileSize = 64 << 20
	DefaultMaxBatch    = 1024
	// DefaultSyncInterval bounds the fsyncs to 20 a second under load.
	DefaultSyncInterval = 50 * time.Millisecond
	queueSize           = 8192
)

// Config configures a Writer.
type Config struct {
	Dir         string // DATA/audit; created 0700 when missing
	MaxFileSize int64  // a file is closed and the next one started past this size
	MaxBatch    int    // events taken from the queue in one write, at most
	// SyncInterval is the longest an event waits in the page cache before its fsync
	// (group commit; default 50ms). Flush and Close sync at once.
	SyncInterval time.Duration
	// Retention: files of UTC days that ended more than this long ago are deleted when the
	// writer opens and whenever it starts a new file (0: the trail is kept forever).
	Retention time.Duration
	Logger    *slog.Logger
	now       func() time.Time // tests; nil: time.Now
}

// Writer appends events as JSON lines, one file per day and size step:
//
//	DIR/YYYYMMDD-NNNN.jsonl   events of that UTC day, NNNN counting up from 0001
//
// Events are queued by Record and written by one goroutine in batches; the file is fsync'd
// at most every SyncInterval (group commit: one fsync covers every batch since the last, so a
// busy registry does not stall on the disk per request); Flush waits until everything
// recorded before it is on disk. Record blocks when the
// queue is full rather than lose events. Files are created 0600.
type Writer struct {
	cfg   Config
	log   *slog.Logger
	queue chan item
	wg    sync.WaitGroup

	mu     sync.RWMutex // guards closed against Record racing Close
	closed bool

	identities identityCache // registry callers' userIdentity, encoded once per caller

	// owned by the writing goroutine
	f       *os.File
	buf     *bufio.Writer
	size    int64
	day     string
	lastErr error
	random  io.Reader // buffered crypto/rand for event ids
	line    []byte    // the event being written, reused
}

type item struct {
	ev      *Event
	flushed chan error // a flush request when set
}

// Open starts a Writer on cfg.Dir.
func Open(cfg Config) (*Writer, error) {
	if cfg.Dir == "" {
		return nil, errors.New("audit: no directory")
	}
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = DefaultMaxFileSize
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = DefaultSyncInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Retention < 0 {
		return nil, fmt.Errorf("audit: negative retention %s", cfg.Retention)
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	w := &Writer{cfg: cfg, log: cfg.Logger, queue: make(chan item, queueSize),
		random: bufio.NewReaderSize(rand.Reader, 4096)}
	w.expire()
	w.wg.Add(1)
	go w.run()
	return w, nil
}

// expire deletes the files of days past the retention (see Config.Retention).
func (w *Writer) expire() {
	if w.cfg.Retention <= 0 {
		return
	}
	// A day's file may be deleted once its last event is older than the retention, that is
	// when the day ended (00:00 UTC of the next day) more than Retention ago.
	cutoff := w.cfg.now().UTC().Add(-w.cfg.Retention)
	files, err := listFiles(w.cfg.Dir)
	if err != nil {
		w.log.Error("audit: listing the trail for retention", "err", err)
		return
	}
	for _, f := range files {
		start, _ := time.Parse("20060102", f.day)
		if !start.AddDate(0, 0, 1).Before(cutoff) || f.day == w.day {
			continue
		}
		if err := os.Remove(filepath.Join(w.cfg.Dir, f.name)); err != nil {
			w.log.Error("audit: removing a file past the retention", "file", f.name, "err", err)
			continue
		}
		w.log.Info("audit: removed a file past the retention", "file", f.name, "retention", w.cfg.Retention)
	}
}

// Record queues e; the caller must not change it afterwards. Fields left empty get their
// defaults (version, event id, type, category, time); the event id is set when it is written.
func (w *Writer) Record(e *Event) {
	if e.EventVersion == "" {
		e.EventVersion = EventVersion
	}
	if e.EventType == "" {
		e.EventType = "AwsApiCall"
	}
	if e.EventCategory == "" {
		e.EventCategory = "Management"
		e.ManagementEvent = true
	}
	if e.EventTime.IsZero() {
		e.EventTime = time.Now()
	}
	e.EventTime = e.EventTime.UTC().Truncate(time.Second)
	if e.RequestParameters == nil {
		e.RequestParameters = map[string]any{}
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.log.Error("audit: event recorded after close", "event", e.EventName, "request_id", e.RequestID)
		return
	}
	w.queue <- item{ev: e}
}

// Flush returns once every event recorded before it is written and synced, with the first
// write error since the last Flush.
func (w *Writer) Flush() error {
	done := make(chan error, 1)
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return errors.New("audit: writer closed")
	}
	w.queue <- item{flushed: done}
	w.mu.RUnlock()
	return <-done
}

// Close writes what is queued, syncs and closes the current file.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	close(w.queue)
	w.mu.Unlock()
	w.wg.Wait()
	return w.lastErr
}

func (w *Writer) run() {
	defer w.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var (
		waiters  []chan error
		dirty    bool // written to the file since the last fsync
		lastSync = time.Now()
	)
	for {
		var (
			it item
			ok bool
		)
		if dirty {
			// Wait for more, but not past the moment the written events are due on disk.
			timer.Reset(max(w.cfg.SyncInterval-time.Since(lastSync), 0))
			select {
			case it, ok = <-w.queue:
				timer.Stop()
			case <-timer.C:
				w.sync()
				dirty, lastSync = false, time.Now()
				continue
			}
		} else {
			it, ok = <-w.queue
		}
		if !ok {
			w.sync()
			if w.f != nil {
				if err := w.f.Close(); err != nil && w.lastErr == nil {
					w.lastErr = err
				}
			}
			return
		}
		waiters = w.take(it, waiters)
		closing := false
		// Gather what else is waiting into the same batch.
	batch:
		for n := 1; n < w.cfg.MaxBatch; n++ {
			select {
			case more, ok := <-w.queue:
				if !ok {
					closing = true
					break batch
				}
				waiters = w.take(more, waiters)
			default:
				break batch
			}
		}
		if w.buf != nil {
			if err := w.buf.Flush(); err != nil { // to the page cache at once
				w.fail(err)
			}
		}
		dirty = true
		if len(waiters) > 0 || closing || time.Since(lastSync) >= w.cfg.SyncInterval {
			w.sync()
			dirty, lastSync = false, time.Now()
		}
		for _, c := range waiters {
			c <- w.lastErr
		}
		if len(waiters) > 0 {
			w.lastErr = nil
			waiters = waiters[:0]
		}
		if closing {
			if w.f != nil {
				if err := w.f.Close(); err != nil && w.lastErr == nil {
					w.lastErr = err
				}
			}
			return
		}
		// Let the queue fill for a moment: requests then enqueue without waking this
		// goroutine, which takes them in batches.
		time.Sleep(lingerTime)
	}
}

// lingerTime is the pause between two batches (the queue holds 8192 events meanwhile).
const lingerTime = time.Millisecond

func (w *Writer) take(it item, waiters []chan error) []chan error {
	if it.flushed != nil {
		return append(waiters, it.flushed)
	}
	if it.ev.EventID == "" {
		// Made here, off the request path, from a buffered random source.
		if id, err := uuid.NewRandomFromReader(w.random); err == nil {
			it.ev.EventID = id.String()
		}
	}
	w.line = append(appendEvent(w.line[:0], it.ev), '\n')
	line := w.line
	if err := w.prepare(it.ev.EventTime, int64(len(line))); err != nil {
		w.fail(err)
		return waiters
	}
	n, err := w.buf.Write(line)
	w.size += int64(n)
	if err != nil {
		w.fail(err)
	}
	return waiters
}

func (w *Writer) fail(err error) {
	w.log.Error("audit: writing the audit trail", "err", err)
	if w.lastErr == nil {
		w.lastErr = err
	}
}

// sync pushes the buffer to the file and the file to the disk.
func (w *Writer) sync() {
	if w.f == nil {
		return
	}
	if err := w.buf.Flush(); err != nil {
		w.fail(err)
	}
	if err := w.f.Sync(); err != nil {
		w.fail(err)
	}
}

// prepare makes sure the open file is the one an event of time t and n bytes goes to.
func (w *Writer) prepare(t time.Time, n int64) error {
	day := t.UTC().Format("20060102")
	if w.f != nil && day == w.day && w.size+n <= w.cfg.MaxFileSize {
		return nil
	}
	if w.f != nil {
		w.sync()
		if err := w.f.Close(); err != nil {
			w.fail(err)
		}
		w.f = nil
	}
	seq, size, err := lastFile(w.cfg.Dir, day)
	if err != nil {
		return err
	}
	if seq == 0 || size+n > w.cfg.MaxFileSize {
		seq, size = seq+1, 0
	}
	w.day = day // kept by expire, which runs for every new file
	w.expire()
	path := filepath.Join(w.cfg.Dir, fileName(day, seq))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if size > 0 && !endsWithNewline(f, size) {
		// The last line was cut short (a crash mid-write): end it, so the next event starts a
		// line of its own and only the torn one is lost.
		if _, err := f.Write([]byte{'\n'}); err != nil {
			f.Close()
			return fmt.Errorf("audit: %w", err)
		}
		size++
	}
	if size == 0 {
		// Make the new file's name durable before events in it are reported as written.
		if d, err := os.Open(w.cfg.Dir); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	w.f, w.buf, w.size, w.day = f, bufio.NewWriterSize(f, 64<<10), size, day
	return nil
}

func fileName(day string, seq int) string { return fmt.Sprintf("%s-%04d.jsonl", day, seq) }

// parseFileName reads DAY and SEQ back from a file name.
func parseFileName(name string) (day string, seq int, ok bool) {
	base, found := strings.CutSuffix(name, ".jsonl")
	if !found {
		return "", 0, false
	}
	day, s, found := strings.Cut(base, "-")
	if !found || len(day) != 8 {
		return "", 0, false
	}
	if _, err := time.Parse("20060102", day); err != nil {
		return "", 0, false
	}
	seq, err := strconv.Atoi(s)
	if err != nil || seq <= 0 {
		return "", 0, false
	}
	return day, seq, true
}

// lastFile is the highest sequence number of day in dir and its size (0, 0 when none).
func lastFile(dir, day string) (int, int64, error) {
	files, err := listFiles(dir)
	if err != nil {
		return 0, 0, err
	}
	seq := 0
	for _, f := range files {
		if f.day == day && f.seq > seq {
			seq = f.seq
		}
	}
	if seq == 0 {
		return 0, 0, nil
	}
	st, err := os.Stat(filepath.Join(dir, fileName(day, seq)))
	if err != nil {
		return 0, 0, err
	}
	return seq, st.Size(), nil
}

type trailFile struct {
	name string
	day  string
	seq  int
}

// listFiles lists the trail's files in the order they were written.
func listFiles(dir string) ([]trailFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []trailFile
	for _, e := range entries {
		if day, seq, ok := parseFileName(e.Name()); ok && e.Type().IsRegular() {
			out = append(out, trailFile{name: e.Name(), day: day, seq: seq})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].day != out[j].day {
			return out[i].day < out[j].day
		}
		return out[i].seq < out[j].seq
	})
	return out, nil
}

func endsWithNewline(f *os.File, size int64) bool {
	var b [1]byte
	_, err := f.ReadAt(b[:], size-1)
	return err == nil && b[0] == '\n'
}
