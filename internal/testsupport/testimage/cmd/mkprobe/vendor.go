package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
	"github.com/vendorimg/vendorimg/registry"
)

// result is what a run did, for the summary.
type result struct {
	GoVersion string
	Ref       string
	Digest    digest.Digest
	Config    string
	Layout    string
	Manifests []string      // "linux/amd64 sha256:..."
	Old       digest.Digest // the pin before the run, if any
	Add       *vendorimg.AddResult
	Removed   int
	Freed     int64
	Blobs     int
	Bytes     int64
}

func (r *result) print(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "built %s with %s\n", r.Ref, r.GoVersion)
	fmt.Fprintf(&b, "  index %s\n", r.Digest)
	for _, m := range r.Manifests {
		fmt.Fprintf(&b, "  %s\n", m)
	}
	s := r.Add.Sync
	switch r.Old {
	case "":
		fmt.Fprintf(&b, "pinned in %s\n", r.Config)
	case r.Digest:
		fmt.Fprintf(&b, "pin unchanged in %s\n", r.Config)
	default:
		fmt.Fprintf(&b, "re-pinned in %s (was %s)\n", r.Config, r.Old)
	}
	fmt.Fprintf(&b, "layout %s: fetched %d blobs (%d bytes), removed %d unreferenced (%d bytes); verify --deep: ok, %d blobs, %d bytes\n",
		r.Layout, s.Fetched, s.FetchedBytes, r.Removed, r.Freed, r.Blobs, r.Bytes)
	_, err := io.WriteString(w, b.String())
	return err
}

// vendor serves idx from an in-process registry on 127.0.0.1 under ref's
// repository and tag, then pins and syncs ref in the vendorimg.yaml at
// path (created with the default layout if absent) through a client that
// mirrors ref's registry to it, deletes the blobs no longer referenced and
// verifies the layout deeply.
func vendor(ctx context.Context, path string, ref reference.Reference, idx v1.ImageIndex) (*result, error) {
	want, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	host, stop, err := serveRegistry()
	if err != nil {
		return nil, err
	}
	defer stop()
	local, err := name.ParseReference(host+"/"+ref.Repository+":"+ref.Tag, name.Insecure)
	if err != nil {
		return nil, err
	}
	if err := remote.WriteIndex(local, idx, remote.WithContext(ctx)); err != nil {
		return nil, fmt.Errorf("pushing to %s: %w", local, err)
	}

	cfg, err := config.Load(ctx, path)
	if errors.Is(err, errs.ErrNoConfig) {
		cfg, err = config.New(path)
	}
	if err != nil {
		return nil, err
	}
	var old digest.Digest
	if i := cfg.Lookup(ref); i >= 0 {
		old = cfg.Images[i].Digest
	}
	client := registry.NewClient(
		registry.WithMirrors(map[string]string{ref.Registry: host}),
		// The local registry needs no credentials: read none.
		registry.WithKeychain(authn.NewMultiKeychain()),
		registry.WithUserAgent("vendorimg-mkprobe"),
	)
	sel := platform.Selection{}
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		pl, err := platform.Parse(p)
		if err != nil {
			return nil, err
		}
		sel.Platforms = append(sel.Platforms, pl)
	}
	added, err := vendorimg.Add(ctx, cfg, vendorimg.AddOptions{Ref: ref.WithoutDigest(), Platforms: sel, SyncOptions: vendorimg.SyncOptions{Client: client}})
	if err != nil {
		return nil, err
	}
	if added.Digest != want.String() {
		return nil, fmt.Errorf("the registry served %s for %s, but the built index is %s", added.Digest, ref, want)
	}
	// The sync pruned the old pin's blobs.
	var freed int64
	for _, g := range added.Sync.Pruned {
		freed += g.Size
	}
	report, err := vendorimg.Verify(ctx, cfg, vendorimg.VerifyOptions{Deep: true})
	if err != nil {
		return nil, err
	}
	if !report.OK() {
		lines := make([]string, len(report.Findings))
		for i, f := range report.Findings {
			lines[i] = f.String()
		}
		return nil, fmt.Errorf("verifying %s: %s", cfg.LayoutDir(), strings.Join(lines, "; "))
	}
	res := &result{Ref: ref.String(), Digest: digest.Digest(want.String()), Config: cfg.Path, Layout: cfg.LayoutDir(), Old: old, Add: added,
		Removed: len(added.Sync.Pruned), Freed: freed, Blobs: report.Blobs, Bytes: report.Bytes}
	if rel, err := filepath.Rel(filepath.Dir(cfg.Path), cfg.LayoutDir()); err == nil {
		res.Layout = filepath.ToSlash(rel)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range m.Manifests {
		res.Manifests = append(res.Manifests, fmt.Sprintf("%s manifest %s", d.Platform, d.Digest))
	}
	return res, nil
}

// serveRegistry serves go-containerregistry's in-memory registry on
// 127.0.0.1 and returns its host:port and a function that stops it.
func serveRegistry() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{
		Handler:           ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.Serve(ln)
	// Close, not Shutdown: every request is answered by then, and Shutdown
	// would wait 5s for a connection the client dialled but never used.
	return ln.Addr().String(), func() { srv.Close() }, nil
}
