package daemon

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// layerFolders is where an engine keeps an image's unpacked layers on this
// machine: one folder per layer, base first.
type layerFolders struct {
	driver string
	dirs   []string
	// full: each folder holds the whole file system up to its layer (vfs,
	// the native snapshotter), not only the layer's changes (overlay).
	full bool
}

// locate finds the folders of image name's layers (diffIDs, base first)
// in the storage of the engine c, from what the engine says of the image
// and of itself: the GraphDriver data of overlay drivers, podman's vfs
// layer list, or containerd's snapshot metadata. An error wrapping
// ErrStorageUnreachable says why it cannot (a driver it does not know, a storage
// folder not on this machine or not readable).
func locate(ctx context.Context, c Client, name string, store string, diffIDs []digest.Digest) (*layerFolders, error) {
	ins, err := c.ImageInspect(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("inspecting %s in docker: %w", name, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("asking docker for its storage: %w", err)
	}
	root := info.DockerRootDir
	n := len(diffIDs)
	driver, data := "", map[string]string{}
	if gd := ins.GraphDriver; gd != nil {
		driver, data = gd.Name, gd.Data
	}
	switch {
	case store == StoreContainerd:
		return snapshotFolders(info.Driver, root, diffIDs)
	case driver == "overlay2" || driver == "fuse-overlayfs" || driver == "overlay":
		lf := &layerFolders{driver: driver, dirs: make([]string, n)}
		if n == 0 {
			return lf, nil
		}
		lf.dirs[n-1] = data["UpperDir"]
		var lowers []string
		if data["LowerDir"] != "" {
			lowers = strings.Split(data["LowerDir"], ":")
		}
		if len(lowers) != n-1 || lf.dirs[n-1] == "" {
			return nil, fmt.Errorf("%w: the engine names %d layer folders (UpperDir and LowerDir) for %d layers", ErrStorageUnreachable, len(lowers)+1, n)
		}
		for i := 0; i < n-1; i++ {
			lf.dirs[i] = lowers[n-2-i]
		}
		return lf, readable(lf.dirs)
	case driver == "vfs":
		return vfsFolders(root, diffIDs)
	default:
		return nil, fmt.Errorf("%w: the storage driver %q keeps its layers where vendorimg does not look (it reads overlay2, fuse-overlayfs, podman's vfs and the containerd store's native and overlayfs snapshotters)", ErrStorageUnreachable, driver)
	}
}

// readable checks that each folder can be listed here.
func readable(dirs []string) error {
	for _, d := range dirs {
		f, err := os.Open(d)
		if err != nil {
			return fmt.Errorf("%w: %v (the engine runs on another machine, or this user may not read its storage: run as root where the engine runs)", ErrStorageUnreachable, err)
		}
		f.Close()
	}
	return nil
}

// vfsFolders finds the layers in a containers/storage graph root (podman's)
// with the vfs driver: vfs-layers/layers.json lists each layer's ID, parent
// and diff digest, and vfs/dir/ID holds the file system up to it.
func vfsFolders(root string, diffIDs []digest.Digest) (*layerFolders, error) {
	list := filepath.Join(root, "vfs-layers", "layers.json")
	raw, err := os.ReadFile(list)
	if err != nil {
		return nil, fmt.Errorf("%w: %v (docker's own vfs driver is not read; podman's is, as root where it runs)", ErrStorageUnreachable, err)
	}
	var layers []struct {
		ID         string `json:"id"`
		Parent     string `json:"parent"`
		DiffDigest string `json:"diff-digest"`
	}
	if err := json.Unmarshal(raw, &layers); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrStorageUnreachable, list, err)
	}
	lf := &layerFolders{driver: "vfs", full: true}
	parent := ""
	for _, d := range diffIDs {
		found := ""
		for _, l := range layers {
			if l.Parent == parent && l.DiffDigest == d.String() {
				found = l.ID
				break
			}
		}
		if found == "" {
			return nil, fmt.Errorf("%w: %s lists no layer %s on parent %q", ErrStorageUnreachable, list, d, parent)
		}
		lf.dirs = append(lf.dirs, filepath.Join(root, "vfs", "dir", found))
		parent = found
	}
	return lf, readable(lf.dirs)
}

// chainIDs are the chain IDs of diffIDs (image-spec config.md): the names
// of the layers' snapshots.
func chainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		out[i] = digest.FromString(out[i-1].String() + " " + d.String())
	}
	return out
}

// mobyNamespace is the containerd namespace the docker engine keeps its
// images and snapshots in.
const mobyNamespace = "moby"

// snapshotFolders finds the layers' snapshots of the containerd image
// store under the engine's data root: containerd's metadata maps each
// layer's chain ID, in the moby namespace, to the snapshotter's key, and
// the snapshotter's own metadata maps that key to the snapshot's folder.
// Both are bolt databases that containerd holds locked: they are read from
// a copy.
func snapshotFolders(snapshotter, root string, diffIDs []digest.Digest) (*layerFolders, error) {
	var sub string
	lf := &layerFolders{driver: snapshotter}
	switch snapshotter {
	case "native":
		lf.full = true
	case "overlayfs":
		sub = "fs"
	default:
		return nil, fmt.Errorf("%w: the snapshotter %q keeps its snapshots where vendorimg does not look (it reads native and overlayfs)", ErrStorageUnreachable, snapshotter)
	}
	daemonRoot := filepath.Join(root, "containerd", "daemon")
	snapRoot := filepath.Join(daemonRoot, "io.containerd.snapshotter.v1."+snapshotter)
	keys := map[digest.Digest]string{}
	chains := chainIDs(diffIDs)
	err := readBolt(filepath.Join(daemonRoot, "io.containerd.metadata.v1.bolt", "meta.db"), func(tx *bolt.Tx) error {
		b := bucket(tx, "v1", mobyNamespace, "snapshots", snapshotter)
		if b == nil {
			return fmt.Errorf("no %s snapshots in namespace %s", snapshotter, mobyNamespace)
		}
		for _, c := range chains {
			sb := b.Bucket([]byte(c.String()))
			if sb == nil {
				return fmt.Errorf("no snapshot %s", c)
			}
			keys[c] = string(sb.Get([]byte("name")))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: containerd's metadata: %v", ErrStorageUnreachable, err)
	}
	err = readBolt(filepath.Join(snapRoot, "metadata.db"), func(tx *bolt.Tx) error {
		b := bucket(tx, "v1", "snapshots")
		if b == nil {
			return errors.New("no snapshots")
		}
		for _, c := range chains {
			sb := b.Bucket([]byte(keys[c]))
			if sb == nil {
				return fmt.Errorf("no snapshot %q (layer %s)", keys[c], c)
			}
			id, n := binary.Uvarint(sb.Get([]byte("id")))
			if n <= 0 {
				return fmt.Errorf("snapshot %q has no id", keys[c])
			}
			lf.dirs = append(lf.dirs, filepath.Join(snapRoot, "snapshots", fmt.Sprint(id), sub))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: the %s snapshotter's metadata: %v", ErrStorageUnreachable, snapshotter, err)
	}
	return lf, readable(lf.dirs)
}

// bucket is the nested bucket at names, or nil.
func bucket(tx *bolt.Tx, names ...string) *bolt.Bucket {
	b := tx.Bucket([]byte(names[0]))
	for _, n := range names[1:] {
		if b == nil {
			return nil
		}
		b = b.Bucket([]byte(n))
	}
	return b
}

// readBolt copies the bolt database at path (its owner holds it locked)
// and reads the copy in a read-only transaction.
func readBolt(path string, fn func(*bolt.Tx) error) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp, err := os.CreateTemp("", "vendorimg-bolt-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, src)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	db, err := bolt.Open(tmp.Name(), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(fn)
}

// LayerStorage is where an engine keeps an image's unpacked layers on its
// machine (LayerFolders).
type LayerStorage struct {
	// Driver is the storage driver or snapshotter.
	Driver string
	// Folders are the layers' folders, base layer first.
	Folders []string
	// Whole: each folder holds the whole file system up to its layer
	// (vfs, the native snapshotter); otherwise only the layer's changes,
	// with overlay whiteouts (overlay2, fuse-overlayfs, overlayfs).
	Whole bool
}

// ErrStorageUnreachable: the engine's storage cannot be read from here
// (another machine, a user who may not read it, a driver vendorimg does
// not know).
var ErrStorageUnreachable = errors.New("the engine's storage cannot be read here")

// LayerFolders finds the folders of image's (a tag or ID) layers in the
// storage of the engine c, as verify --daemon --deep reads them: the
// GraphDriver data of overlay drivers, podman's vfs layer list, or the
// containerd store's snapshot metadata. It reads; it changes nothing. An
// error wrapping ErrStorageUnreachable says why it cannot.
func LayerFolders(ctx context.Context, c Client, image string) (LayerStorage, error) {
	eng, err := Inspect(ctx, c)
	if err != nil {
		return LayerStorage{}, err
	}
	ins, err := c.ImageInspect(ctx, image)
	if err != nil {
		return LayerStorage{}, fmt.Errorf("inspecting %s in docker: %w", image, err)
	}
	var diffIDs []digest.Digest
	for _, l := range ins.RootFS.Layers {
		d, err := digest.Parse(l)
		if err != nil {
			return LayerStorage{}, fmt.Errorf("image %s: layer %q: %w", image, l, err)
		}
		diffIDs = append(diffIDs, d)
	}
	lf, err := locate(ctx, c, image, eng.Store, diffIDs)
	if err != nil {
		return LayerStorage{}, err
	}
	return LayerStorage{Driver: lf.driver, Folders: lf.dirs, Whole: lf.full}, nil
}
