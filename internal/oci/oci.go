// Package oci is the vocabulary hubmirror's layers share about container
// images: which digests, repository names and tags are valid, the media
// types of manifests, what a manifest refers to, and the errors every
// layer branches on. It stands on the field's own libraries
// (github.com/opencontainers/go-digest and image-spec) and imports nothing
// of hubmirror's but the message catalog's key marker.
package oci
