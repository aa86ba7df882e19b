package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// archiveCmd writes the docker-archive (manifest.json form, as the classic
// store loads) of the one image in an OCI layout, with its layers as they
// are stored (gzip): what "docker load -i" gets when nobody decompresses the
// layers first, unlike skopeo's docker-archive, whose layers are plain tar.
//
//	benchtool gzarchive -layout DIR -tag REF -o FILE
func archiveCmd(args []string) error {
	fl := flag.NewFlagSet("gzarchive", flag.ContinueOnError)
	dir := fl.String("layout", "", "OCI layout holding one single-platform image")
	tag := fl.String("tag", "", "tag to give the image")
	out := fl.String("o", "", "archive to write")
	if err := fl.Parse(args); err != nil {
		return err
	}
	type desc struct {
		Digest string `json:"digest"`
	}
	var idx struct{ Manifests []desc }
	if err := readJSON(filepath.Join(*dir, "index.json"), &idx); err != nil {
		return err
	}
	if len(idx.Manifests) != 1 {
		return errors.New("gzarchive: the layout must hold exactly one image")
	}
	blob := func(d string) string { return filepath.Join(*dir, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")) }
	var m struct {
		Config desc
		Layers []desc
	}
	if err := readJSON(blob(idx.Manifests[0].Digest), &m); err != nil {
		return err
	}
	name := func(d string) string { return "blobs/sha256/" + strings.TrimPrefix(d, "sha256:") }
	entry := struct {
		Config   string
		RepoTags []string
		Layers   []string
	}{Config: name(m.Config.Digest), RepoTags: []string{*tag}}
	files := []string{m.Config.Digest}
	for _, l := range m.Layers {
		entry.Layers = append(entry.Layers, name(l.Digest))
		files = append(files, l.Digest)
	}
	mf, err := json.Marshal([]any{entry})
	if err != nil {
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, d := range files {
		if err := addFile(tw, name(d), blob(d)); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "manifest.json", Mode: 0o644, Size: int64(len(mf))}); err != nil {
		return err
	}
	if _, err := tw.Write(mf); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func addFile(tw *tar.Writer, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: fi.Size()}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
