package fs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
)

// publisher makes verified uploads visible in batches. Making one blob durable costs a sync
// of its data before the rename and one of its directory after it, each a round trip to the
// device. Uploads that finish while a sync runs wait and go together in the next one, and
// each sync serves two batches: it makes the data of the uploads that arrived durable and the
// names of the batch renamed after the previous sync. So in a steady stream of pushes there
// is one sync of the filesystem per batch (syncfs; an fsync of the file or directory when
// there is just one), and every publication returns after two.
//
// A goroutine runs the syncs while there is work and ends when there is none. Callers hold
// their digest's lock while they wait, so a batch never holds one digest twice.
type publisher struct {
	mu      sync.Mutex
	queue   []*publication // verified, waiting for their data to be synced
	running bool
	ran     func(n int) // tests: called with each sync's number of publications
}

// publication is one upload waiting to be published under its digest.
type publication struct {
	u      *upload
	d      digest.Digest
	target string
	now    time.Time
	exists bool  // the blob was already there (and is touched): the upload is discarded
	err    error // set before done is closed
	done   chan struct{}
	dirs   []string // directories whose entries the rename changed
}

// publish returns when pb is published (or failed).
func (p *publisher) publish(pb *publication) error {
	pb.done = make(chan struct{})
	p.mu.Lock()
	p.queue = append(p.queue, pb)
	start := !p.running
	p.running = true
	p.mu.Unlock()
	if start {
		go p.run()
	}
	<-pb.done
	return pb.err
}

// run syncs until there is nothing left: each round takes the publications that arrived,
// syncs their data together with the names renamed in the round before, answers that
// round's publications, and renames this round's.
func (p *publisher) run() {
	var renamed []*publication
	for {
		p.mu.Lock()
		arrived := p.queue
		p.queue = nil
		if len(arrived) == 0 && len(renamed) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()

		var files []*os.File
		waiting := arrived[:0]
		for _, b := range arrived {
			if fi, err := os.Stat(b.target); err == nil && fi.Size() == b.u.size {
				if err := os.Chtimes(b.target, b.now, b.now); err == nil {
					b.exists = true
					close(b.done)
					continue
				}
			}
			if err := os.Chtimes(b.u.path, b.now, b.now); err != nil {
				b.err = fmt.Errorf("blob/fs: %w", err)
				close(b.done)
				continue
			}
			files = append(files, b.u.f)
			waiting = append(waiting, b)
		}
		var dirs []string
		for _, b := range renamed {
			dirs = append(dirs, b.dirs...)
		}
		if p.ran != nil {
			p.ran(len(waiting) + len(renamed))
		}
		err := p.sync(files, dirs)
		for _, b := range renamed {
			if err != nil {
				b.err = fmt.Errorf("blob/fs: %w", err)
			}
			close(b.done)
		}
		renamed = renamed[:0]
		for _, b := range waiting {
			if err != nil {
				b.err = fmt.Errorf("blob/fs: %w", err)
				close(b.done)
				continue
			}
			created, err := rename(b.u.path, b.target)
			if err != nil {
				b.err = fmt.Errorf("blob/fs: publishing %s: %w", b.d, err)
				close(b.done)
				continue
			}
			dir := filepath.Dir(b.target)
			b.dirs = append(b.dirs, dir)
			if created {
				b.dirs = append(b.dirs, filepath.Dir(dir), filepath.Dir(filepath.Dir(dir)))
			}
			renamed = append(renamed, b)
		}
	}
}

// sync makes the files' data and metadata and the directories' entries durable: one fsync
// when there is one of them, one sync of the whole filesystem otherwise.
func (p *publisher) sync(files []*os.File, dirs []string) error {
	switch {
	case len(files)+len(dirs) == 0:
		return nil
	case len(files) == 1 && len(dirs) == 0:
		return files[0].Sync()
	case len(files) == 0 && len(dirs) == 1:
		return syncDir(dirs[0])
	}
	return syncAll(files, dirs)
}

// rename moves from to to, creating to's directory (and reporting that it did) when it is the
// first blob of its prefix.
func rename(from, to string) (created bool, err error) {
	err = os.Rename(from, to)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(to), 0o750); err != nil {
			return false, err
		}
		return true, os.Rename(from, to)
	}
	return false, err
}

// syncEach makes each file and each distinct directory durable, one fsync each (where the
// system has no syncfs).
func syncEach(files []*os.File, dirs []string) error {
	for _, f := range files {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	seen := make(map[string]bool, len(dirs))
	for _, d := range dirs {
		if seen[d] {
			continue
		}
		seen[d] = true
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}
