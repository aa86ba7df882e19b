package daemon

import (
	"math/rand/v2"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestBackgroundHash: the digest is of exactly the bytes written, in
// order, whatever the sizes of the writes (smaller and larger than a
// chunk, more than the chunks that may wait).
func TestBackgroundHash(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 5*hashChunks*hashChunk+12345)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	want := digest.FromBytes(data)
	pool := newChunkPool()
	for _, size := range []int{1, 4095, hashChunk - 1, hashChunk, 3*hashChunk + 7, len(data)} {
		h := newBackgroundHash(pool)
		for p := data; len(p) > 0; {
			n := min(size, len(p))
			if m, err := h.Write(p[:n]); m != n || err != nil {
				t.Fatalf("Write(%d bytes) = %d, %v", n, m, err)
			}
			p = p[n:]
		}
		if got := h.digest(); got != want {
			t.Errorf("writes of %d bytes: digest %s, want %s", size, got, want)
		}
		h.stop() // again: a no-op
	}
	// Stopped before any digest, as on an error path: no goroutine left
	// blocked (the race detector and goleak-free exit of the test).
	h := newBackgroundHash(pool)
	h.Write(data[:hashChunk*2])
	h.stop()
}
