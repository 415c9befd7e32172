package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
)

// TagRecord remembers which manifest a tag named, per media type, so that
// a client's Accept header can still be honoured when serving offline. It
// is stored as JSON, {"entries":[{"mediaType":…,"digest":…,"seen":…}]}.
type TagRecord struct {
	Entries []TagEntry `json:"entries"`
}

// TagEntry is the manifest of one media type a tag named, and when.
type TagEntry struct {
	MediaType string        `json:"mediaType"`
	Digest    digest.Digest `json:"digest"`
	Seen      time.Time     `json:"seen"`
}

// Newest returns the entries, the most recently seen first.
func (r TagRecord) Newest() []TagEntry {
	out := append([]TagEntry(nil), r.Entries...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seen.After(out[j].Seen) })
	return out
}

// ReadTag reads the record of registry's repo:tag; an error wrapping
// fs.ErrNotExist when there is none. Its digests are as stored: check
// them (oci.CheckDigest) before use. With a store behind the cache, a
// record missing here is read from the store and kept here.
func (c *Cache) ReadTag(registry, repo, tag string) (TagRecord, error) {
	rec, err := c.readTagLocal(registry, repo, tag)
	if errors.Is(err, fs.ErrNotExist) && c.remote != nil {
		return c.tagFromStore(registry, repo, tag, err)
	}
	return rec, err
}

// readTagLocal is ReadTag of the cache directory alone.
func (c *Cache) readTagLocal(registry, repo, tag string) (TagRecord, error) {
	var rec TagRecord
	raw, err := os.ReadFile(c.tagPath(registry, repo, tag))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return rec, fmt.Errorf("tag record %s:%s: %w", repo, tag, err)
	}
	return rec, nil
}

// RecordTag notes that tag pointed to m just now, replacing what the
// record said for m's media type. With a store behind the cache, the
// record is then merged into the store's (see records.go): the caller
// does not wait for it.
func (c *Cache) RecordTag(registry, repo, tag string, m Manifest) error {
	c.tagMu.Lock()
	defer c.tagMu.Unlock()
	rec, err := c.readTagLocal(registry, repo, tag)
	if err != nil {
		rec = TagRecord{}
	}
	entries := rec.Entries[:0]
	for _, e := range rec.Entries {
		if e.MediaType != m.MediaType {
			entries = append(entries, e)
		}
	}
	rec.Entries = append(entries, TagEntry{MediaType: m.MediaType, Digest: m.Digest, Seen: time.Now().UTC()})
	raw, _ := json.Marshal(rec)
	if err := c.writeFile(c.tagPath(registry, repo, tag), raw); err != nil {
		return err
	}
	if c.records != nil {
		c.records.add(tagKey(registry, repo, tag), record{registry: registry, repo: repo, tag: tag})
	}
	return nil
}
