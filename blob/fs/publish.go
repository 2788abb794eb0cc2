package fs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// publisher makes verified uploads durable in batches.
//
// Before it queues, a publication seals its upload (takes the write permission away: see
// sealed). One sync then makes the data, the seal and the upload's name durable, and the
// blob's name is created as a hard link to the upload's: the publication is done, its name is
// durable through the sealed upload's. The next sync makes the blob names durable, after
// which the uploads' names are removed. After a crash in between, New finds the sealed upload
// and links its content under its digest again (recoverUploads).
// So a publication waits for one sync, and in a steady stream of pushes each sync serves two
// batches: the data of the uploads that arrived and the names linked after the sync before.
// Nobody waits for the names, so when no upload is waiting they are synced only after
// namesDelay: an upload that arrives meanwhile (the next layer of a push) takes them along
// in its own sync instead of queueing behind a sync of names.
//
// Uploads that arrive while a sync runs go together in the next one. It is one syncfs of the
// filesystem (one fsync when there is a single directory and nothing else). A goroutine runs
// the syncs while there is work and ends when there is none. Callers hold their digest's
// lock while they wait, so a batch never holds one digest twice.
//
// Where the filesystem has no hard links, or does not keep permissions (the upload cannot be
// sealed: see probeSeal), the upload is renamed to the blob's name instead, and that
// publication waits for the next sync too.
type publisher struct {
	wake    chan struct{} // signalled when a publication is queued while the goroutine runs
	mu      sync.Mutex
	queue   []*publication // waiting for their data to be synced
	running bool
	ran     func(n int) // tests: called with each sync's number of publications and names
}

// namesDelay is how long linked names wait for a sync that an upload would run anyway.
const namesDelay = 20 * time.Millisecond

// publication is one verified upload waiting to be published under its digest.
type publication struct {
	f      *os.File    // the data
	upload string      // the upload's name (sealed unless rename)
	mode   fs.FileMode // its permissions before it was sealed
	rename bool        // not sealed (see probeSeal): renamed to the blob's name instead
	target string      // the blob's name
	exists bool        // the blob appeared meanwhile: the upload is the caller's to remove
	err    error       // set before done is closed
	done   chan struct{}
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
	} else {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	<-pb.done
	return pb.err
}

// run syncs until there is nothing left: each round takes the publications that arrived,
// syncs their data together with the blob names linked in the round before, links this
// round's blobs, and then removes the uploads' names of the blobs whose names are durable.
func (p *publisher) run() {
	var (
		linked    []string       // sealed uploads whose blobs were linked after the last sync
		confirmed []string       // the ones the last sync made durable (linked's spare slice)
		dirs      []string       // directories whose entries those links (or renames) changed
		renamed   []*publication // published by rename: answered when their names are durable
		delayed   bool           // the names waited namesDelay for an upload to take them along
		idle      = time.NewTimer(namesDelay)
	)
	idle.Stop()
	for {
		p.mu.Lock()
		arrived := p.queue
		p.queue = nil
		if len(arrived) == 0 && len(linked) == 0 && len(renamed) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		if len(arrived) == 0 && len(renamed) == 0 && !delayed {
			// Only names to sync, and nobody waits for them: give the next upload a moment
			// to take them along.
			delayed = true
			idle.Reset(namesDelay)
			select {
			case <-p.wake:
				idle.Stop()
			case <-idle.C:
			}
			continue
		}
		delayed = false

		files := make([]*os.File, 0, len(arrived))
		for _, b := range arrived {
			files = append(files, b.f)
		}
		syncing := dirs
		for _, b := range arrived { // the uploads' names (for syncEach: syncfs covers them)
			syncing = append(syncing, filepath.Dir(b.upload))
		}
		if p.ran != nil {
			p.ran(len(arrived) + len(linked) + len(renamed))
		}
		err := p.sync(files, syncing)
		for _, b := range renamed {
			if err != nil {
				b.err = fmt.Errorf("blob/fs: %w", err)
			}
			close(b.done)
		}
		// The blob names linked before this sync are durable now; their uploads' names are
		// removed after this round's publications are answered.
		confirmed, linked = linked, confirmed[:0]
		dirs, renamed = dirs[:0], renamed[:0]
		for _, b := range arrived {
			if err != nil {
				b.err = fmt.Errorf("blob/fs: %w", err)
				close(b.done)
				continue
			}
			var linkErr error // why the link failed (none for an unsealed upload, never linked)
			if !b.rename {
				created, lerr := place(os.Link, b.upload, b.target)
				if lerr == nil {
					linked = append(linked, b.upload)
					dirs = appendDirs(dirs, b.target, created)
					close(b.done)
					continue
				}
				if errors.Is(lerr, fs.ErrExist) {
					b.exists = true
					close(b.done)
					continue
				}
				linkErr = lerr
			}
			created, rerr := place(os.Rename, b.upload, b.target)
			if rerr != nil {
				b.err = fmt.Errorf("blob/fs: publishing %s: %w", filepath.Base(b.target), errors.Join(linkErr, rerr))
				close(b.done)
				continue
			}
			dirs = appendDirs(dirs, b.target, created)
			renamed = append(renamed, b)
		}
		if err == nil {
			for _, name := range confirmed {
				os.Remove(name)
			}
		} // else the sealed uploads stay, and New finishes their publication
	}
}

// appendDirs adds the directories whose entries publishing target changed: its own, and the
// two above it when it was the first blob of its prefix.
func appendDirs(dirs []string, target string, created bool) []string {
	dir := filepath.Dir(target)
	dirs = append(dirs, dir)
	if created {
		dirs = append(dirs, filepath.Dir(dir), filepath.Dir(filepath.Dir(dir)))
	}
	return dirs
}

// sync makes the files' data and metadata and the directories' entries durable: one fsync
// when there is one directory and nothing else, one sync of the whole filesystem otherwise.
func (p *publisher) sync(files []*os.File, dirs []string) error {
	switch {
	case len(files)+len(dirs) == 0:
		return nil
	case len(files) == 0 && len(dirs) == 1:
		return syncDir(dirs[0])
	}
	return syncAll(files, dirs)
}

// place links or renames from to to, creating to's directory (and reporting that it did)
// when it is the first blob of its prefix.
func place(op func(from, to string) error, from, to string) (created bool, err error) {
	err = op(from, to)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Lstat(from); serr != nil {
			return false, err
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o750); err != nil {
			return false, err
		}
		return true, op(from, to)
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
