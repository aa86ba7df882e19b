package daemon

import (
	"crypto/sha256"
	"hash"

	"github.com/opencontainers/go-digest"
)

// hashChunk is the size of the copies the background hash works on.
const hashChunk = 256 << 10

// hashChunks is how many chunks may wait for the background hash.
const hashChunks = 4

// backgroundHash is a SHA-256 computed on another goroutine from copies
// of the bytes written to it, so that hashing a blob overlaps sending it:
// an engine that takes the whole archive before it does anything (the
// classic store and podman write it to a file first) gets it sooner.
// The digest is of exactly the bytes written, in order; digest waits for
// them. stop ends the goroutine (after digest, or on an error path).
type backgroundHash struct {
	h       hash.Hash
	work    chan []byte
	pool    *chunkPool
	done    chan struct{}
	stopped bool
}

// chunkPool holds the copies' buffers, at most hashChunks, reused from
// one blob to the next.
type chunkPool struct {
	free chan []byte
	made int
}

func newChunkPool() *chunkPool { return &chunkPool{free: make(chan []byte, hashChunks)} }

// get returns a free chunk, waiting for one when all are in use.
func (p *chunkPool) get() []byte {
	select {
	case c := <-p.free:
		return c
	default:
	}
	if p.made < hashChunks {
		p.made++
		return make([]byte, 0, hashChunk)
	}
	return <-p.free
}

func newBackgroundHash(pool *chunkPool) *backgroundHash {
	b := &backgroundHash{h: sha256.New(), work: make(chan []byte, hashChunks), pool: pool, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		for c := range b.work {
			b.h.Write(c)
			pool.free <- c[:0]
		}
	}()
	return b
}

// Write queues a copy of p for hashing.
func (b *backgroundHash) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		c := b.pool.get()
		m := copy(c[:cap(c)], p)
		b.work <- c[:m]
		p = p[m:]
	}
	return n, nil
}

// digest waits for every byte written to be hashed and returns the digest.
func (b *backgroundHash) digest() digest.Digest {
	b.stop()
	return digest.NewDigest(digest.SHA256, b.h)
}

// stop ends the background goroutine once it has hashed what was written.
func (b *backgroundHash) stop() {
	if !b.stopped {
		b.stopped = true
		close(b.work)
	}
	<-b.done
}
