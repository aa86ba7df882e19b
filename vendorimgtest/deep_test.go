package vendorimgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/internal/testsupport/enginetest"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/layout"
)

// TestRunDeepDaemonFindsAChangedLayer changes a file of one layer inside
// the engine's storage during the tests: the check after them passes
// without Options.DeepDaemon (image IDs do not see it) and fails with it,
// naming the layer. The image is random and unique to the test, so the
// probe and other suites never see the change.
func TestRunDeepDaemonFindsAChangedLayer(t *testing.T) {
	ctx := context.Background()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	seed := int64(binary.BigEndian.Uint64(b[:]) >> 1)
	reg := registrytest.Start(t, registrytest.Options{})
	eng, err := daemon.Inspect(ctx, engine(t))
	if err != nil {
		t.Fatal(err)
	}
	name := reg.Host + "/vendorimgtest/deep-" + hex.EncodeToString(b[:4]) + ":1"
	registrytest.Push(t, name, registrytest.Image(t, eng.Platform, 2, 3000, seed, registrytest.OCI))
	cfg := addImage(t, name, eng.Platform)
	c := engine(t)
	t.Cleanup(func() {
		if _, err := daemon.Unload(ctx, c, layout.New(cfg.LayoutDir()), cfg.Images, daemon.UnloadOptions{}); err != nil {
			t.Errorf("unloading %s: %v", name, err)
		}
	})
	for _, tc := range []struct {
		name     string
		deep     bool
		wantCode int
		want     []string
	}{
		{name: "without DeepDaemon", wantCode: 0},
		{name: "with DeepDaemon", deep: true, wantCode: 1, want: []string{
			// One problem from the export; where the engine's storage is
			// read, a second, the changed file of the same layer.
			"vendorimgtest: the vendored images changed during the tests (",
			"daemon content: " + name + ": ",
			"layer 1 ",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			m := &fakeRunner{fn: func() { enginetest.ChangeLayer(t, name, 1) }}
			code := run(ctx, m, Options{Config: cfg.Path, DeepDaemon: tc.deep, Lock: LockNone, Stderr: &stderr}, nil)
			if code != tc.wantCode || !m.ran {
				t.Errorf("run(DeepDaemon %v) after a change in the engine's storage = %d (tests ran %v), want %d:\n%s", tc.deep, code, m.ran, tc.wantCode, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("run(DeepDaemon %v) printed %q, want it to contain %q", tc.deep, stderr.String(), w)
				}
			}
		})
	}
}
