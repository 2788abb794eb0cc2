package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// keyUseRecorder writes "access key last used" off the request path, at most once per
// interval per key: requests only queue a note, one goroutine writes them.
type keyUseRecorder struct {
	store    CredentialStore
	interval time.Duration
	now      func() time.Time
	logger   *slog.Logger
	queue    chan keyUse
	done     chan struct{}
	once     sync.Once
	wg       sync.WaitGroup
}

type keyUse struct {
	id, service, region string
}

// keyUseQueue is how many uses may wait for the writer; beyond that a use is retried on the
// key's next request.
const keyUseQueue = 1024

func newKeyUseRecorder(store CredentialStore, interval time.Duration, now func() time.Time, logger *slog.Logger) *keyUseRecorder {
	u := &keyUseRecorder{store: store, interval: interval, now: now, logger: logger,
		queue: make(chan keyUse, keyUseQueue), done: make(chan struct{})}
	u.wg.Add(1)
	go u.run()
	return u
}

// note records that k signed a request, if its last recorded use is older than the interval.
// Temporary credentials have no last-used record.
func (u *keyUseRecorder) note(k *resolvedKey, service, region string) {
	if k.cred.Temporary() {
		return
	}
	now := u.now().UnixNano()
	last := k.lastUse.Load()
	if last != 0 && now-last < int64(u.interval) {
		return
	}
	if !k.lastUse.CompareAndSwap(last, now) {
		return // another request of the same key is recording it
	}
	select {
	case u.queue <- keyUse{id: k.cred.AccessKeyID, service: service, region: region}:
	default:
		k.lastUse.CompareAndSwap(now, last)
	}
}

func (u *keyUseRecorder) run() {
	defer u.wg.Done()
	for {
		select {
		case use := <-u.queue:
			u.write(use)
		case <-u.done:
			for {
				select {
				case use := <-u.queue:
					u.write(use)
				default:
					return
				}
			}
		}
	}
}

func (u *keyUseRecorder) write(use keyUse) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := u.store.RecordAccessKeyUse(ctx, use.id, use.service, use.region); err != nil {
		u.logger.Warn("auth: recording access key use", "access_key_id", use.id, "error", err.Error())
	}
}

// close writes what is queued and stops the writer; later notes are dropped.
func (u *keyUseRecorder) close() {
	u.once.Do(func() { close(u.done) })
	u.wg.Wait()
}
