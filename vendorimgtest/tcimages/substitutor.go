package tcimages

import (
	"context"
	"errors"
	"fmt"

	"github.com/testcontainers/testcontainers-go"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/reference"
)

// Substitutor is a testcontainers-go ImageSubstitutor that maps references
// to vendored images onto the tags vendorimg load gives them in docker, and
// refuses every other image. It holds a copy of the configuration's images
// and is safe for concurrent use. Build one with NewSubstitutor or
// FindSubstitutor; the zero value refuses every image.
type Substitutor struct {
	path   string
	images []config.Image
}

var _ testcontainers.ImageSubstitutor = (*Substitutor)(nil)

// NewSubstitutor returns a Substitutor for the images of cfg. Later changes
// to cfg do not affect it.
func NewSubstitutor(cfg *config.Config) (*Substitutor, error) {
	if cfg == nil {
		return nil, errors.New("substituting vendored images: no configuration")
	}
	return &Substitutor{path: cfg.Path, images: append([]config.Image(nil), cfg.Images...)}, nil
}

// FindSubstitutor returns a Substitutor for the vendorimg.yaml in dir or
// its nearest parent, found as config.Find does (like go.mod). From a
// test, dir "." is the test's package folder. The error wraps
// errs.ErrNoConfig when there is no file, and errs.ErrConfig when it is
// malformed.
func FindSubstitutor(dir string) (*Substitutor, error) {
	path, err := config.Find(dir)
	if err != nil {
		return nil, err
	}
	// A small local file, read once by a TestMain: no context to honour.
	cfg, err := config.Load(context.Background(), path)
	if err != nil {
		return nil, err
	}
	return NewSubstitutor(cfg)
}

// Description says what the substitutor does, for testcontainers-go's log.
func (s *Substitutor) Description() string {
	return fmt.Sprintf("vendorimg (images vendored in %s, as vendorimg load tags them)", s.file())
}

// Substitute returns the docker tag that vendorimg load gives the vendored
// image that image names, in docker's short form, as docker lists it
// ("alpine:3.19.1", "registry.vendorimg.test/probe:1"). image may be in
// any form that normalises to a configured image: short or full, with no
// digest, or with the pin ("alpine:3.19.1@sha256:c5b1..."), or by digest
// alone when that digest is the pin ("alpine@sha256:c5b1...").
//
// Substitute refuses, with an error that names vendorimg.yaml, an image
// that is not vendored (wrapping errs.ErrConfig), a digest that is not the
// pin (wrapping errs.ErrConfig; a platform's manifest digest is not the
// pin), an image vendored by digest alone, which vendorimg load does not
// tag (wrapping errs.ErrConfig), and a malformed reference (wrapping
// errs.ErrInvalidReference or errs.ErrInvalidDigest). It does not contact
// docker: that the tag is loaded is the caller's part.
func (s *Substitutor) Substitute(image string) (string, error) {
	ref, err := reference.Parse(image)
	if err != nil {
		return "", fmt.Errorf("substituting a vendored image: %w", err)
	}
	im, ok := s.lookup(ref)
	if !ok {
		return "", refusef("image %s is not vendored in %s, and offline it cannot be pulled (vendor it with: vendorimg add %s)",
			image, s.file(), ref.WithoutDigest())
	}
	if ref.Digest != "" && ref.Digest != im.Digest {
		return "", refusef("image %s pins %s, but %s pins %s for %s (a reference must carry the pin, the top-level digest, or no digest)",
			image, ref.Digest, s.file(), im.Digest, im.Name())
	}
	if im.Ref.Tag == "" {
		return "", refusef("image %s is vendored in %s by digest alone, and vendorimg load does not tag it (give it a tag in its ref:)",
			image, s.file())
	}
	return im.Ref.WithoutDigest().Familiar(), nil
}

// file names the configuration in messages.
func (s *Substitutor) file() string {
	if s.path == "" {
		return "no vendorimg.yaml"
	}
	return s.path
}

// lookup finds the configured image ref names: by repository and tag, or,
// for a reference with a digest and no tag, by repository and pin.
func (s *Substitutor) lookup(ref reference.Reference) (config.Image, bool) {
	for _, im := range s.images {
		if ref.Tag != "" && im.Ref.Tag == ref.Tag && im.Ref.Name() == ref.Name() {
			return im, true
		}
		if ref.Tag == "" && im.Digest == ref.Digest && im.Ref.Name() == ref.Name() {
			return im, true
		}
	}
	return config.Image{}, false
}

// refusal is an image Substitute refuses: its message is the whole story,
// and it wraps errs.ErrConfig for errors.Is.
type refusal struct{ msg string }

func refusef(format string, args ...any) error { return &refusal{msg: fmt.Sprintf(format, args...)} }

func (e *refusal) Error() string { return e.msg }

func (e *refusal) Unwrap() error { return errs.ErrConfig }
