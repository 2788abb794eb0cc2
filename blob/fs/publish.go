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

// publisher makes verified uploads visible in batches. Making one blob durable costs an fsync
// of its file and one of its directory, each a synchronous round trip to the device, and most
// of the CPU of a small push; uploads that finish while a batch is being published wait and
// go together in the next one, which syncs the filesystem once for all their data, renames
// them all, and syncs once more for all the new names. The first publication that finds no
// batch running leads; when its batch is done it hands the lead to the first one waiting, so
// no caller publishes for others longer than one batch.
type publisher struct {
	root  string
	mu    sync.Mutex
	queue []*publication
	busy  bool
	ran   func(n int) // tests: called with each batch's size
}

// publication is one upload waiting to be published under its digest.
type publication struct {
	u      *upload
	d      digest.Digest
	target string
	now    time.Time
	exists bool      // the blob was already there (and is touched): the upload is discarded
	err    error     // set by the batch
	wake   chan bool // for a publication that waits: true to lead the next batch, false when done
}

// publish returns when pb is published (or failed).
func (p *publisher) publish(pb *publication) error {
	p.mu.Lock()
	if p.busy {
		pb.wake = make(chan bool, 1)
		p.queue = append(p.queue, pb)
		p.mu.Unlock()
		if !<-pb.wake {
			return pb.err
		}
		p.mu.Lock() // leading: pb is still in the queue, at its head
	} else {
		p.busy = true
		p.queue = append(p.queue, pb)
	}
	batch := p.queue
	p.queue = nil
	p.mu.Unlock()

	p.run(batch)

	p.mu.Lock()
	var next *publication
	if len(p.queue) > 0 {
		next = p.queue[0]
	} else {
		p.busy = false
	}
	p.mu.Unlock()
	if next != nil {
		next.wake <- true
	}
	for _, b := range batch {
		if b != pb {
			b.wake <- false
		}
	}
	return pb.err
}

// run publishes a batch: each upload's data and modification time made durable, then renamed
// under its digest, then the new names made durable. A batch of one syncs its own file and
// directory; a bigger one syncs the whole filesystem twice (syncfs where there is one).
func (p *publisher) run(batch []*publication) {
	if p.ran != nil {
		p.ran(len(batch))
	}
	live := make([]*publication, 0, len(batch))
	for _, b := range batch {
		if fi, err := os.Stat(b.target); err == nil && fi.Size() == b.u.size {
			if err := os.Chtimes(b.target, b.now, b.now); err == nil {
				b.exists = true
				continue
			}
		}
		if err := os.Chtimes(b.u.path, b.now, b.now); err != nil {
			b.err = fmt.Errorf("blob/fs: %w", err)
			continue
		}
		live = append(live, b)
	}
	if len(live) == 0 {
		return
	}
	files := make([]*os.File, len(live))
	for i, b := range live {
		files[i] = b.u.f
	}
	if err := syncFiles(p.root, files); err != nil {
		for _, b := range live {
			b.err = fmt.Errorf("blob/fs: %w", err)
		}
		return
	}
	var dirs []string
	renamed := live[:0]
	for _, b := range live {
		created, err := rename(b.u.path, b.target)
		if err != nil {
			b.err = fmt.Errorf("blob/fs: publishing %s: %w", b.d, err)
			continue
		}
		dir := filepath.Dir(b.target)
		dirs = append(dirs, dir)
		if created {
			dirs = append(dirs, filepath.Dir(dir), filepath.Dir(filepath.Dir(dir)))
		}
		renamed = append(renamed, b)
	}
	if len(renamed) == 0 {
		return
	}
	if err := syncDirs(p.root, dirs); err != nil {
		for _, b := range renamed {
			b.err = fmt.Errorf("blob/fs: %w", err)
		}
	}
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

// syncFilesEach makes each file's data and metadata durable, one fsync each.
func syncFilesEach(files []*os.File) error {
	for _, f := range files {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	return nil
}

// syncDirsEach makes the entries of each distinct directory durable, one fsync each.
func syncDirsEach(dirs []string) error {
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
