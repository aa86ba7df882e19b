package layout_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/layout"
)

func TestGC(t *testing.T) {
	tests := []struct {
		name string
		// setup adds or breaks things and returns the plan's Remove paths
		// with their reasons ("path reason").
		setup    func(t *testing.T, fx *fixture) []string
		wantKept func(fx *fixture) int
	}{
		{
			name:     "nothing to collect",
			setup:    func(*testing.T, *fixture) []string { return nil },
			wantKept: func(fx *fixture) int { return len(fx.all()) },
		},
		{
			name: "unreferenced and temporary",
			setup: func(t *testing.T, fx *fixture) []string {
				old := newBlob("application/octet-stream", []byte("a layer of an older pin"))
				fx.write(old)
				fx.writeFile("blobs/sha256/.tmp-4abcf2066143-99", "half a layer")
				fx.writeFile(".tmp-index.json-7", "{")
				return []string{".tmp-index.json-7 temporary", "blobs/sha256/.tmp-4abcf2066143-99 temporary", old.rel() + " unreferenced"}
			},
			wantKept: func(fx *fixture) int { return len(fx.all()) },
		},
		{
			name: "an image dropped from index.json",
			setup: func(t *testing.T, fx *fixture) []string {
				if _, err := fx.l.WriteIndex(context.Background(), nil); err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, b := range fx.all() {
					out = append(out, b.rel()+" unreferenced")
				}
				slices.Sort(out)
				return out
			},
			wantKept: func(*fixture) int { return 0 },
		},
		{
			// Blobs of platforms that are not selected are still reachable
			// from the index: they are not garbage.
			name: "other platforms are kept",
			setup: func(t *testing.T, fx *fixture) []string {
				fx.remove(fx.image("linux/arm64").layers[0])
				return nil
			},
			wantKept: func(fx *fixture) int { return len(fx.all()) - 1 },
		},
		{
			// Strays, symlinks and folders are for verify to report and a
			// human to remove; gc deletes only what it knows.
			name: "strays are left alone",
			setup: func(t *testing.T, fx *fixture) []string {
				fx.writeFile("README.md", "x")
				fx.writeFile("blobs/sha256/notadigest", "x")
				if err := os.Symlink("/etc/passwd", fx.path(layout.RelBlobPath(digest.FromString("link")))); err != nil {
					t.Fatal(err)
				}
				if err := os.Mkdir(fx.path("blobs/sha256/.tmp-dir"), 0o755); err != nil {
					t.Fatal(err)
				}
				return nil
			},
			wantKept: func(fx *fixture) int { return len(fx.all()) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			fx := newFixture(t, fixtureOptions{}).writeAll()
			want := tt.setup(t, fx)
			before := snapshot(t, fx.l.Root())
			plan, err := fx.l.PlanGC(ctx)
			if err != nil {
				t.Fatalf("PlanGC() = %v, want nil", err)
			}
			var got []string
			var size int64
			for _, g := range plan.Remove {
				got = append(got, g.Path+" "+g.Reason)
				fi, err := os.Stat(fx.path(g.Path))
				if err != nil || fi.Size() != g.Size {
					t.Errorf("PlanGC() lists %s of %d bytes, want its size", g.Path, g.Size)
				}
				size += g.Size
			}
			if !slices.Equal(got, want) {
				t.Errorf("PlanGC().Remove = %q, want %q", got, want)
			}
			if plan.Bytes() != size {
				t.Errorf("PlanGC().Bytes() = %d, want %d", plan.Bytes(), size)
			}
			if k := tt.wantKept(fx); plan.Kept != k {
				t.Errorf("PlanGC().Kept = %d, want %d", plan.Kept, k)
			}
			// Planning is a dry run.
			if after := snapshot(t, fx.l.Root()); !maps.Equal(before, after) {
				t.Errorf("PlanGC() changed the layout")
			}
			if err := fx.l.ApplyGC(ctx, plan); err != nil {
				t.Fatalf("ApplyGC() = %v, want nil", err)
			}
			after := snapshot(t, fx.l.Root())
			for rel := range before {
				_, kept := after[rel]
				removed := slices.ContainsFunc(plan.Remove, func(g layout.Garbage) bool { return g.Path == rel })
				if kept == removed {
					t.Errorf("after ApplyGC, %s kept = %v, want %v", rel, kept, !removed)
				}
			}
			again, err := fx.l.PlanGC(ctx)
			if err != nil || len(again.Remove) != 0 {
				t.Errorf("PlanGC() after ApplyGC = %+v, %v, want nothing to remove", again, err)
			}
		})
	}
}

func TestPlanGCRefusesUnreadableDocuments(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, fx *fixture)
		wantErr error
	}{
		{"corrupt manifest", func(t *testing.T, fx *fixture) { fx.flip(fx.image("linux/amd64").manifest, 3) }, errs.ErrDigestMismatch},
		{"malformed index.json", func(t *testing.T, fx *fixture) { writeOver(t, fx.path(layout.IndexFile), []byte("[")) }, errs.ErrInvalidLayout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, fixtureOptions{}).writeAll()
			fx.write(newBlob("x", []byte("garbage")))
			tt.damage(t, fx)
			before := snapshot(t, fx.l.Root())
			plan, err := fx.l.PlanGC(context.Background())
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("PlanGC() = %+v, %v, want an error wrapping %v", plan, err, tt.wantErr)
			}
			if after := snapshot(t, fx.l.Root()); !maps.Equal(before, after) {
				t.Errorf("a failed PlanGC() changed the layout")
			}
		})
	}
}

// TestPlanGCWithoutIndex: a layout with no index.json (a first sync killed
// before it wrote one) gets its temporary files collected, and no blob,
// since what the blobs belong to is unknown.
func TestPlanGCWithoutIndex(t *testing.T) {
	fx := newFixture(t, fixtureOptions{}).writeAll()
	fx.write(newBlob("x", []byte("garbage")))
	if err := os.Remove(fx.path(layout.IndexFile)); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(fx.path(".tmp-stage-1/x"), 0o755); err != nil {
		t.Fatal(err)
	}
	fx.writeFile("blobs/sha256/.tmp-abc-1", "x")
	plan, err := fx.l.PlanGC(context.Background())
	if err != nil {
		t.Fatalf("PlanGC() = %v, want nil", err)
	}
	var got []string
	for _, g := range plan.Remove {
		got = append(got, g.Path+" "+g.Reason)
	}
	want := []string{".tmp-stage-1 temporary", "blobs/sha256/.tmp-abc-1 temporary"}
	if !slices.Equal(got, want) || plan.Kept != len(fx.all())+1 {
		t.Errorf("PlanGC() = %v, kept %d, want %v, kept %d", got, plan.Kept, want, len(fx.all())+1)
	}
}

func TestApplyGCRefusesEscapingPaths(t *testing.T) {
	fx := newFixture(t, fixtureOptions{}).writeAll()
	outside := fx.path("../victim")
	writeOver(t, outside, []byte("keep me"))
	plan := &layout.GCPlan{Remove: []layout.Garbage{{Path: "../victim", Reason: "unreferenced"}}}
	err := fx.l.ApplyGC(context.Background(), plan)
	if !errors.Is(err, errs.ErrInvalidLayout) || !strings.Contains(err.Error(), "../victim") {
		t.Errorf("ApplyGC(../victim) = %v, want an error wrapping %v", err, errs.ErrInvalidLayout)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("ApplyGC(../victim) removed a file outside the layout: %v", err)
	}
}

func TestRemoveTemporary(t *testing.T) {
	fx := newFixture(t, fixtureOptions{}).writeAll()
	fx.writeFile("blobs/sha256/.tmp-abc-1", "x")
	fx.writeFile(".tmp-index.json-2", "x")
	n, err := fx.l.RemoveTemporary(context.Background())
	if err != nil || n != 2 {
		t.Errorf("RemoveTemporary() = %d, %v, want 2, nil", n, err)
	}
	if files := listFiles(t, fx.l.Root()); hasTemp(files) {
		t.Errorf("after RemoveTemporary, the layout holds %q", files)
	}
	rep, err := fx.l.Verify(context.Background(), layout.VerifyOptions{Images: fx.expect("linux/amd64", "linux/arm64")})
	if err != nil || !rep.OK() {
		t.Errorf("Verify() after RemoveTemporary = %v, %v, want OK", rep.Findings, err)
	}
}

// TestPlanPruneThenApply: sync's pruning plan lists the blobs outside the
// keep set, and nothing else, changes nothing, and ApplyGC carries it out.
func TestPlanPruneThenApply(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, fixtureOptions{}).writeAll()
	arm := fx.image("linux/arm64")
	fx.writeFile("blobs/sha256/.tmp-4abcf2066143-99", "half a layer")
	keep := map[digest.Digest]bool{fx.top.Digest: true}
	for _, b := range fx.image("linux/amd64").blobs() {
		keep[b.Digest] = true
	}
	plan, err := fx.l.PlanPrune(ctx, keep)
	if err != nil {
		t.Fatalf("PlanPrune() = %v", err)
	}
	var got, want []string
	for _, g := range plan.Remove {
		got = append(got, g.Path+" "+g.Reason)
	}
	for _, b := range arm.blobs() {
		want = append(want, b.rel()+" unreferenced")
	}
	slices.Sort(want)
	if !slices.Equal(got, want) || plan.Kept != len(keep) {
		t.Fatalf("PlanPrune() = %v kept %d, want %v kept %d", got, plan.Kept, want, len(keep))
	}
	for _, b := range arm.blobs() {
		if _, err := os.Stat(fx.path(b.rel())); err != nil {
			t.Fatalf("PlanPrune() removed %s: %v", b.rel(), err)
		}
	}
	if err := fx.l.ApplyGC(ctx, plan); err != nil {
		t.Fatalf("ApplyGC(prune plan) = %v", err)
	}
	for _, b := range arm.blobs() {
		if _, err := os.Stat(fx.path(b.rel())); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after ApplyGC, %s: %v, want it removed", b.rel(), err)
		}
	}
	if _, err := os.Stat(fx.path("blobs/sha256/.tmp-4abcf2066143-99")); err != nil {
		t.Errorf("ApplyGC(prune plan) removed a temporary file the plan did not list: %v", err)
	}
}
