package registry

import "sync"

// keyedMutex serializes requests on the same upload session within this process, so that
// two PATCHes of one upload never interleave their bytes.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	mu      sync.Mutex
	holders int // goroutines holding or waiting for mu
}

// lock locks key and returns the function that unlocks it.
func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.holders++
	k.mu.Unlock()

	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		l.holders--
		if l.holders == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
