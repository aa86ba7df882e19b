// Package manifest knows the JSON documents that make up an image graph:
// OCI image indexes and manifests (image-spec v1.1) and their Docker
// counterparts (Docker Image Manifest V2, Schema 2 and manifest lists). It
// parses them to find their children, without ever re-encoding them: the
// bytes a registry served are the bytes vendorimg stores, because the pin
// is their digest.
//
// It reads no files and opens no connections; the layout and the registry
// client both use it.
package manifest
