package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/progress"
	"github.com/vendorimg/vendorimg/reference"
)

// Kind names what a Finding is about. The values are part of vendorimg's
// --json output and do not change.
type Kind string

// Finding kinds.
const (
	// KindTagMissing: the image's tag is not in docker (never loaded, or
	// removed).
	KindTagMissing Kind = "tag-missing"
	// KindTagMoved: the tag points to an image that is not the vendored
	// one (a re-tag, a docker commit onto it, a pull that replaced it).
	KindTagMoved Kind = "tag-moved"
	// KindLayers: the image's ID is the vendored one but its layers differ
	// from the config's diff_ids.
	KindLayers Kind = "layers"
	// KindLayout: the vendored image cannot be read from the layout (not
	// synced, incomplete, or a blob that does not verify), so docker's
	// image cannot be checked against it.
	KindLayout Kind = "layout"
	// KindContent (with VerifyOptions.Deep): what the engine exports of
	// the image differs from the vendored image: a layer whose tar does
	// not hash to its diff_id (or to the vendored blob's digest), or a
	// config or manifest that does not hash to its digest; or the engine
	// refused to export the image naming a layer it found changed. Layer
	// says which layer; none for a config or manifest.
	KindContent Kind = "content"
	// KindFiles (with VerifyOptions.Deep, where the engine's storage can
	// be read): a file in the engine's own storage of a layer differs from
	// the vendored layer's tar: its type, mode (setuid, setgid and sticky
	// bits included), owner, link target, size or content, or it was added
	// or removed. Layer says which layer.
	KindFiles Kind = "files"
	// KindExport (with VerifyOptions.Deep): the engine could not export
	// the image, or its archive lacks a layer, the config or the file that
	// says which file is what, so the image was not rehashed.
	KindExport Kind = "export"
)

// Finding is one problem Verify found.
type Finding struct {
	// Kind says what is wrong.
	Kind Kind `json:"kind"`
	// Image is the image's full reference, its name in the layout.
	Image string `json:"image"`
	// Tag is the name docker knows it by.
	Tag string `json:"tag,omitempty"`
	// Expected is what docker should hold: image IDs, or diff_ids.
	Expected string `json:"expected,omitempty"`
	// Actual is what it holds.
	Actual string `json:"actual,omitempty"`
	// Layer is the index of the layer a content finding is about (0 is
	// the base layer, as in the config's diff_ids); absent for a config
	// or manifest, and for other kinds.
	Layer *int `json:"layer,omitempty"`
	// Message says it in a sentence.
	Message string `json:"message"`
}

// String is the finding as verify prints it: kind, tag and message.
func (f Finding) String() string {
	name := f.Tag
	if name == "" {
		name = f.Image
	}
	return "daemon " + string(f.Kind) + ": " + name + ": " + f.Message
}

// ImageCheck is one configured image's state in docker.
type ImageCheck struct {
	// Ref is the image's full reference, its name in the layout.
	Ref string `json:"ref"`
	// Tag is the name docker knows it by ("" for a digest-only reference).
	Tag string `json:"tag"`
	// ImageID is what the tag points to ("" when it is missing).
	ImageID string `json:"imageId,omitempty"`
	// Platform is the vendored platform the image is, when it is one.
	Platform string `json:"platform,omitempty"`
	// Match is the identity rule it satisfies ("config", "manifest",
	// "index").
	Match string `json:"match,omitempty"`
	// OK: the tag points to a vendored platform's image, with its layers
	// (and, with VerifyOptions.Deep, the engine's export of it rehashed to
	// the vendored digests).
	OK bool `json:"ok"`
	// Exported is how many bytes of the engine's export of the image were
	// rehashed (VerifyOptions.Deep; 0 otherwise).
	Exported int64 `json:"exported,omitempty"`
	// Storage says whether the image's files in the engine's own storage
	// were compared with the vendored layers, or why not
	// (VerifyOptions.Deep; absent otherwise).
	Storage *StorageCheck `json:"storage,omitempty"`
}

// Report is what Verify found.
type Report struct {
	// Engine is the engine checked.
	Engine Engine `json:"engine"`
	// Images are the configured images, in order.
	Images []ImageCheck `json:"images"`
	// Findings are the problems, in image order; none means OK.
	Findings []Finding `json:"findings"`
	// Deep: each image whose tag points to the vendored one was exported
	// from the engine and rehashed (VerifyOptions.Deep).
	Deep bool `json:"deep"`
	// Bytes is how many bytes of the engines' exports were rehashed, in
	// all (0 unless Deep).
	Bytes int64 `json:"bytes"`
}

// OK reports whether nothing was found.
func (r *Report) OK() bool { return len(r.Findings) == 0 }

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Logger receives debug logs. Default: discard.
	Logger *slog.Logger
	// Progress, if not nil, receives a progress.Waiting event if another
	// vendorimg holds the layout's lock, before Verify waits for it.
	Progress progress.Func
	// Deep also exports each image whose ID and layers are the vendored
	// ones from the engine (GET /images/get, "docker save", streamed and
	// hashed as it streams: no temporary file, memory that does not grow
	// with layer size) and checks the archive: a docker-archive's layer
	// tars against the config's diff_ids, in order, and its config
	// against the config digest; an OCI layout's blobs against the
	// vendored manifest's digests. So a file changed in the engine's
	// storage is found, where the IDs it compares otherwise are not
	// changed by it. It costs reading the whole image from the engine
	// (and the engine's own work to write the archive). Where the
	// engine's storage can be read (on its machine, as root), Deep also
	// compares every file of the image's layer folders with the vendored
	// layers' tar headers and contents: type, mode, owner, link target,
	// size, content and the set of files, which an export need not show
	// (the classic store rebuilds an export's tar headers from what it
	// recorded at import). ImageCheck.Storage says whether it could.
	// Default false.
	Deep bool
}

// Verify checks that each image's tag in the engine c still points to the
// vendored image: its ID must be the config digest (classic store) or the
// manifest or index digest (containerd store) of one of the vendored
// platforms, and its layers must be that config's diff_ids. It reports
// every image, and a finding for each tag that is missing, points
// elsewhere or has other layers, and for each image the layout cannot
// provide; it checks only the configs of the layout, not its layers
// (layout.Verify rehashes those); opts.Deep also rehashes what the engine
// exports of each image. The error is for what stops the check (the
// engine unreachable, a cancelled ctx). It changes nothing.
func Verify(ctx context.Context, c Client, l *layout.Layout, images []config.Image, opts VerifyOptions) (*Report, error) {
	logger, eng, err := begin(ctx, c, "verifying images in docker", opts.Logger)
	if err != nil {
		return nil, err
	}
	rep := &Report{Engine: eng, Images: []ImageCheck{}, Findings: []Finding{}, Deep: opts.Deep}
	var idx *ocispec.Index
	var layoutErr error
	if l.Exists() {
		lock, err := l.Lock(ctx, false, opts.Progress)
		if err != nil {
			return nil, err
		}
		defer lock.Unlock()
		idx, layoutErr = l.ReadIndex(ctx)
	} else {
		layoutErr = noLayout(l)
	}
	for _, im := range images {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		chk := ImageCheck{Ref: im.Name(), Tag: dockerTag(im)}
		find := func(kind Kind, expected, actual, msg string) {
			rep.Findings = append(rep.Findings, Finding{Kind: kind, Image: chk.Ref, Tag: chk.Tag, Expected: expected, Actual: actual, Message: msg})
		}
		vs, err := readVendoredWithConfigs(ctx, l, idx, layoutErr, im)
		if err != nil {
			find(KindLayout, "", "", err.Error())
			rep.Images = append(rep.Images, chk)
			continue
		}
		if err := checkImage(ctx, c, eng, vs, &chk, find); err != nil {
			return nil, err
		}
		if opts.Deep && chk.OK {
			if err := deepCheck(ctx, c, l, vs, &chk, rep); err != nil {
				return nil, err
			}
		}
		logger.Debug("verify in docker", "image", chk.Ref, "tag", chk.Tag, "id", chk.ImageID, "ok", chk.OK)
		rep.Images = append(rep.Images, chk)
	}
	return rep, nil
}

// deepCheck exports the image chk found from the engine and rehashes it
// against the vendored platform its ID identifies, adding to rep.
func deepCheck(ctx context.Context, c Client, l *layout.Layout, vs []*vendored, chk *ImageCheck, rep *Report) error {
	var v *vendored
	for _, cand := range vs {
		if cand.matchID(chk.ImageID) != "" {
			v = cand
			break
		}
	}
	name := chk.Tag
	if name == "" {
		name = chk.ImageID
	}
	n, fs, err := exportCheck(ctx, c, l, name, v, chk.Match == MatchIndex)
	if err != nil {
		return err
	}
	chk.Exported = n
	rep.Bytes += n
	files, sc, err := checkStorage(ctx, c, l, name, rep.Engine.Store, v)
	if err != nil {
		return err
	}
	chk.Storage = &sc
	fs = append(fs, files...)
	for _, f := range fs {
		f.Image, f.Tag = chk.Ref, chk.Tag
		rep.Findings = append(rep.Findings, f)
	}
	chk.OK = len(fs) == 0
	return nil
}

// readVendoredWithConfigs reads every vendored platform of im with its
// diff_ids.
func readVendoredWithConfigs(ctx context.Context, l *layout.Layout, idx *ocispec.Index, layoutErr error, im config.Image) ([]*vendored, error) {
	if layoutErr != nil {
		return nil, layoutErr
	}
	vs, err := readVendored(ctx, l, idx, im)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		if err := v.readConfig(ctx, l); err != nil {
			return nil, err
		}
	}
	return vs, nil
}

// checkImage checks one image's tag against its vendored platforms.
func checkImage(ctx context.Context, c Client, eng Engine, vs []*vendored, chk *ImageCheck, find func(kind Kind, expected, actual, msg string)) error {
	name := chk.Tag
	var ins struct {
		ID     string
		Layers []string
	}
	found := false
	if name == "" {
		// A reference with only a digest is loaded untagged: look for the
		// image itself.
		for _, v := range vs {
			res, ok, err := findByID(ctx, c, v)
			if err != nil {
				return err
			}
			if ok {
				ins.ID, ins.Layers, found = res.ID, res.RootFS.Layers, true
				break
			}
		}
	} else {
		res, err := c.ImageInspect(ctx, name)
		switch {
		case err == nil:
			ins.ID, ins.Layers, found = res.ID, res.RootFS.Layers, true
		case !isNotFound(err):
			return fmt.Errorf("inspecting %s in docker: %w", name, err)
		}
	}
	if !found {
		find(KindTagMissing, expectedIDs(eng, vs), "", "not in docker (run vendorimg load)")
		return nil
	}
	chk.ImageID = ins.ID
	for _, v := range vs {
		rule := v.matchID(ins.ID)
		if rule == "" {
			continue
		}
		chk.Platform, chk.Match = v.platformString(), rule
		if !equalLayers(ins.Layers, v.diffIDs) {
			find(KindLayers, joinDigests(v.diffIDs), strings.Join(ins.Layers, ","),
				fmt.Sprintf("image %s has other layers than the vendored %s config's diff_ids", reference.Short(ins.ID), v.platformString()))
			return nil
		}
		chk.OK = true
		return nil
	}
	find(KindTagMoved, expectedIDs(eng, vs), ins.ID,
		fmt.Sprintf("points to image %s, which is not the vendored image (a re-tag, a docker commit onto the tag, or a pull replaced it)", reference.Short(ins.ID)))
	return nil
}

// expectedIDs lists the IDs the engine's store gives the vendored
// platforms.
func expectedIDs(eng Engine, vs []*vendored) string {
	var out []string
	for _, v := range vs {
		id := v.config.Digest
		if eng.Store == StoreContainerd {
			id = v.manifest.Digest
		}
		out = append(out, fmt.Sprintf("%s (%s)", id, v.platformString()))
	}
	return strings.Join(out, ", ")
}

func equalLayers(got []string, want []digest.Digest) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i].String() {
			return false
		}
	}
	return true
}

func joinDigests(ds []digest.Digest) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	return strings.Join(s, ",")
}
