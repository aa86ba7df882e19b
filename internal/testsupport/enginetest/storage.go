package enginetest

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// ChangeLayer changes one byte of a file of layer i (0 is the base layer,
// as in the config's diff_ids) of image (a tag or ID) in the engine's own
// storage, where the engine keeps what it exports of the image ("docker
// save"), and changes it back when the test ends. The file keeps its size.
// It returns the path it changed. Use an image unique to the test: every
// image sharing the layer sees the change while it lasts. It needs the
// engine's storage on this machine and root.
//
// Where the layer is, by the engine's storage driver:
//   - overlay2, fuse-overlayfs (Docker's classic store): the layer's diff
//     folder, from the image's GraphDriver data (UpperDir is the top
//     layer, LowerDir lists the others from the top down);
//   - vfs (podman): the layer's folder under the graph root, found by
//     walking the layers' chain of diff_ids in vfs-layers/layers.json; a
//     vfs folder holds the whole file system up to its layer, so the file
//     is one the parent layer's folder lacks;
//   - the containerd image store: the layer's blob in containerd's content
//     store under the data root, which the export reads (not the unpacked
//     snapshot that containers run from).
//
// An engine with another driver skips the test, naming it.
func ChangeLayer(t testing.TB, image string, i int) string {
	t.Helper()
	e := Describe(t)
	var info struct {
		Driver        string
		DockerRootDir string
	}
	inspectJSON(t, &info, "info", "--format", "{{json .}}")
	var ins struct {
		ID          string
		RootFS      struct{ Layers []string }
		GraphDriver struct{ Data map[string]string }
	}
	inspectJSON(t, &ins, "image", "inspect", "--format", "{{json .}}", image)
	n := len(ins.RootFS.Layers)
	if i < 0 || i >= n {
		t.Fatalf("ChangeLayer(%s, %d): the image has %d layers", image, i, n)
	}
	var target string
	switch {
	case e.Store == "containerd":
		target = containerdBlob(t, info.DockerRootDir, ins.ID, i)
	case info.Driver == "overlay2" || info.Driver == "fuse-overlayfs":
		dir := ins.GraphDriver.Data["UpperDir"]
		if i < n-1 {
			lowers := strings.Split(ins.GraphDriver.Data["LowerDir"], ":")
			if len(lowers) != n-1 {
				t.Fatalf("ChangeLayer(%s, %d): %s lists %d lower folders for %d layers", image, i, e, len(lowers), n)
			}
			dir = lowers[n-2-i]
		}
		target = firstFile(t, dir, "")
	case info.Driver == "vfs":
		// A vfs folder holds the whole file system up to its layer: take a
		// file its parent's folder does not have.
		dir, parent := vfsLayer(t, info.DockerRootDir, ins.RootFS.Layers, i)
		target = firstFile(t, dir, parent)
	default:
		t.Skipf("ChangeLayer: %s uses the storage driver %q, whose layer folders this helper does not know", e, info.Driver)
	}
	flipMiddle(t, target)
	t.Cleanup(func() { flipMiddle(t, target) })
	return target
}

// inspectJSON decodes the output of a docker command into v.
func inspectJSON(t testing.TB, v any, args ...string) {
	t.Helper()
	out, err := docker(args...)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
}

// containerdBlob is the content store's file of layer i of the manifest
// whose digest is id, under the engine's data root.
func containerdBlob(t testing.TB, root, id string, i int) string {
	t.Helper()
	blobs := filepath.Join(root, "containerd", "daemon", "io.containerd.content.v1.content", "blobs", "sha256")
	raw, err := os.ReadFile(filepath.Join(blobs, strings.TrimPrefix(id, "sha256:")))
	if err != nil {
		t.Fatalf("reading the manifest %s from the content store: %v", id, err)
	}
	var m struct {
		Layers []struct{ Digest string }
	}
	if err := json.Unmarshal(raw, &m); err != nil || i >= len(m.Layers) {
		t.Fatalf("the manifest %s in the content store has %d layers (%v), want layer %d", id, len(m.Layers), err, i)
	}
	return filepath.Join(blobs, strings.TrimPrefix(m.Layers[i].Digest, "sha256:"))
}

// vfsLayer is the folder of layer i of the chain of diffIDs in the
// containers/storage graph root, and its parent's ("" for the base layer).
func vfsLayer(t testing.TB, root string, diffIDs []string, i int) (string, string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "vfs-layers", "layers.json"))
	if err != nil {
		t.Fatal(err)
	}
	var layers []struct {
		ID         string `json:"id"`
		Parent     string `json:"parent"`
		DiffDigest string `json:"diff-digest"`
	}
	if err := json.Unmarshal(raw, &layers); err != nil {
		t.Fatalf("%s: %v", filepath.Join(root, "vfs-layers", "layers.json"), err)
	}
	parent, prevDir := "", ""
	for j := 0; j <= i; j++ {
		found := ""
		for _, l := range layers {
			if l.Parent == parent && l.DiffDigest == diffIDs[j] {
				found = l.ID
				break
			}
		}
		if found == "" {
			t.Fatalf("no layer with diff_id %s on parent %q in %s", diffIDs[j], parent, root)
		}
		if parent != "" {
			prevDir = filepath.Join(root, "vfs", "dir", parent)
		}
		parent = found
	}
	return filepath.Join(root, "vfs", "dir", parent), prevDir
}

// firstFile is the first regular, non-empty file under dir, in lexical
// order, that the folder not (if not "") does not have at the same path.
func firstFile(t testing.TB, dir, not string) string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil && fi.Size() > 0 && !inFolder(not, dir, p) {
				files = append(files, p)
			}
		}
		return nil
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no regular file to change in the layer folder %s (%v)", dir, err)
	}
	sort.Strings(files)
	return files[0]
}

// inFolder reports whether folder (if not "") has a file at p's path
// relative to dir.
func inFolder(folder, dir, p string) bool {
	if folder == "" {
		return false
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return false
	}
	_, err = os.Lstat(filepath.Join(folder, rel))
	return err == nil
}

// flipMiddle inverts the middle byte of the file at p, in place.
func flipMiddle(t testing.TB, p string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("changing a file of the engine's storage: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	off := fi.Size() / 2
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(fmt.Errorf("changing %s: %w", p, err))
	}
}
