package layout

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/vendorimg/vendorimg/progress"
)

// hashTask is one blob to rehash, and with --deep the diff_id its
// uncompressed content must have.
type hashTask struct {
	desc   ocispec.Descriptor
	image  string
	diffID digest.Digest
}

// queue schedules d for hashing, once per digest and diff_id.
func (v *verifier) queue(d ocispec.Descriptor, image string, diffID digest.Digest) {
	key := d.Digest.String() + "|" + diffID.String()
	if _, ok := v.tasks[key]; ok {
		return
	}
	t := &hashTask{desc: d, image: image, diffID: diffID}
	v.tasks[key] = t
	v.order = append(v.order, t)
}

func (v *verifier) progress(n int64) {
	done := v.done.Add(n)
	if v.opts.Progress != nil {
		v.progressMu.Lock()
		v.opts.Progress(progress.Event{Kind: progress.Advance, Done: done, Size: max(v.total.Load(), done)})
		v.progressMu.Unlock()
	}
}

// hashAll rehashes the queued blobs in parallel and records findings.
func (v *verifier) hashAll(ctx context.Context) error {
	// The total is fixed before the workers start: documents already read
	// plus every queued blob.
	total := v.done.Load()
	for _, t := range v.order {
		total += t.desc.Size
	}
	v.total.Store(total)
	var mu sync.Mutex
	hashed := map[digest.Digest]bool{}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(v.opts.Jobs)
	for _, t := range v.order {
		g.Go(func() error {
			findings, n, err := v.hashOne(ctx, t)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			v.report.Findings = append(v.report.Findings, findings...)
			if !hashed[t.desc.Digest] {
				hashed[t.desc.Digest] = true
				v.report.Blobs++
				v.report.Bytes += n
			}
			return nil
		})
	}
	return g.Wait()
}

// hashOne streams one blob through sha256 (and, for a deep check, through
// its decompressor and a second sha256).
func (v *verifier) hashOne(ctx context.Context, t *hashTask) ([]Finding, int64, error) {
	rel := RelBlobPath(t.desc.Digest)
	f, err := v.l.OpenBlob(t.desc.Digest)
	if err != nil {
		return []Finding{{Kind: KindMalformed, Path: rel, Image: t.image, Message: err.Error()}}, 0, nil
	}
	defer f.Close()
	h := sha256.New()
	counter := &progressReader{ctx: ctx, r: f, v: v}
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	var findings []Finding
	if t.diffID == "" {
		// Straight into the hash, through the pooled buffer: a few large
		// reads per blob, not one per 8 KiB.
		_, err = io.CopyBuffer(h, counter, *buf)
	} else {
		src := bufio.NewReaderSize(io.TeeReader(counter, h), len(*buf))
		diff, derr := uncompressedDigest(src, t.desc.MediaType)
		if derr != nil {
			if ctx.Err() != nil {
				return nil, 0, ctx.Err()
			}
			findings = append(findings, Finding{Kind: KindDiffID, Path: rel, Image: t.image, Expected: t.diffID.String(),
				Message: fmt.Sprintf("layer %s does not decompress: %v", t.desc.Digest, derr)})
		} else if diff != t.diffID {
			findings = append(findings, Finding{Kind: KindDiffID, Path: rel, Image: t.image, Expected: t.diffID.String(), Actual: diff.String(),
				Message: fmt.Sprintf("layer %s decompresses to %s, the config's diff_id is %s", t.desc.Digest, diff, t.diffID)})
		}
		// Hash whatever the decompressor did not read (trailing bytes, or
		// everything after a decompression error).
		_, err = src.WriteTo(io.Discard)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		return append(findings, Finding{Kind: KindMalformed, Path: rel, Image: t.image, Message: err.Error()}), counter.n, nil
	}
	if got := digest.NewDigest(digest.SHA256, h); got != t.desc.Digest {
		findings = append(findings, Finding{Kind: KindDigest, Path: rel, Image: t.image, Expected: t.desc.Digest.String(), Actual: got.String(),
			Message: fmt.Sprintf("blob %s hashes to %s", t.desc.Digest, got)})
	}
	return findings, counter.n, nil
}

// uncompressedDigest decompresses a layer by its media type and hashes the
// result. Media types without a compression suffix are hashed as they are.
func uncompressedDigest(r io.Reader, mediaType string) (digest.Digest, error) {
	dec, err := Decompress(r, mediaType)
	if err != nil {
		return "", err
	}
	defer dec.Close()
	h := sha256.New()
	if _, err := io.Copy(h, dec); err != nil {
		return "", err
	}
	return digest.NewDigest(digest.SHA256, h), nil
}

// progressReader counts bytes, reports progress and stops on cancellation.
type progressReader struct {
	ctx context.Context
	r   io.Reader
	v   *verifier
	n   int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	if n > 0 {
		p.v.progress(int64(n))
	}
	return n, err
}
