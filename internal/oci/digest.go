package oci

import (
	// The hash functions of the two algorithms accepted: go-digest does
	// not link them itself.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// CheckDigest reports why d is not a digest hubmirror accepts, or nil.
// The format is go-digest's (Digest.Validate: a registered algorithm and
// lowercase hex of its length); of the algorithms it knows, only the two
// the OCI image spec registers, sha256 and sha512, are accepted: sha384
// is refused, as it always was here. A digest that passes names files
// under the cache directory safely (no "/", no "..") and can be hashed.
func CheckDigest(d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("digest %q: %w (write sha256:<64 lowercase hex digits> or sha512:<128>)", string(d), err)
	}
	if a := d.Algorithm(); a != digest.SHA256 && a != digest.SHA512 {
		return fmt.Errorf("digest %q: unsupported algorithm %q (use sha256 or sha512)", string(d), string(a))
	}
	return nil
}

// ParseDigest reads s as a digest that CheckDigest accepts.
func ParseDigest(s string) (digest.Digest, error) {
	d := digest.Digest(s)
	if err := CheckDigest(d); err != nil {
		return "", err
	}
	return d, nil
}
