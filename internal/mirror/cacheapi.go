package mirror

// The cache API lets `hubmirror cache ls|verify|prune|clear` work while a
// mirror runs on the cache directory, whose lock keeps the commands from
// opening it themselves: they ask the running mirror, on its own listener,
// under /api/cache/, which does what the command would have done on the
// directory, with the running mirror's index, pins and downloads in view.
//
// It answers only this machine (loopback), and only a caller that can read
// the cache directory: each request carries the key the mirror keeps in
// the directory's file api-key (mode 0600), so the API gives nobody more
// than the directory already gives them. A web page cannot read the file,
// nor send the header without a CORS preflight, which the API refuses.
// The key is random, made when the listener starts and accepted by no other
// route; it is written on the first request that lacks it, and a client
// that finds no key, or a stale one from an earlier run, asks once without
// it and then reads the file again.

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/clientsetup"
	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/store"
)

// cacheAPIPrefix is where the cache API's routes live.
const cacheAPIPrefix = "/api/cache/"

// cacheKeyFile is the file in the cache directory that holds the cache
// API's key of the mirror running on it.
const cacheKeyFile = "api-key"

// newCacheKey returns a key for the cache API of a listener: 32 random
// bytes, hex.
func newCacheKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// writeCacheKey makes the cache directory's key file hold key, readable by
// the directory's owner only. It rewrites the file only when it differs,
// through a temporary file, so that a client never reads half a key.
func writeCacheKey(root, key string) error {
	path := filepath.Join(root, cacheKeyFile)
	if old, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(old)) == key {
		return nil
	}
	f, err := os.CreateTemp(root, cacheKeyFile+".*")
	if err != nil {
		return fmt.Errorf("cache API key: %w", err)
	}
	_, err = f.WriteString(key + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("cache API key: %w", err)
	}
	return nil
}

// serveCacheAPI answers the cache API: GET images and usage, POST verify,
// prune?to=BYTES and clear. Replies are JSON; verify streams one JSON
// object a line, its progress and then its result.
func (s *server) serveCacheAPI(w *recorder, r *http.Request) error {
	if !fromLoopback(r.RemoteAddr) {
		return newError(codeDenied, "the cache API answers this machine only")
	}
	key := s.cacheKey
	got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if key == "" || subtle.ConstantTimeCompare([]byte(got), []byte(key)) != 1 {
		// A server made without a key lets nothing through and writes no file.
		if key != "" {
			if err := writeCacheKey(s.cache.Dir(), key); err != nil {
				return err
			}
		}
		return newError(codeUnauthorized,
			"the cache API needs the key in "+filepath.Join(s.cache.Dir(), cacheKeyFile))
	}
	c := s.cache
	op := strings.TrimPrefix(r.URL.Path, cacheAPIPrefix)
	method := http.MethodPost
	if op == "images" || op == "usage" {
		method = http.MethodGet
	}
	if r.Method != method {
		return &regError{Code: codeUnsupported, Allow: method,
			Message: r.Method + " " + r.URL.Path + " is not supported"}
	}
	switch op {
	case "images":
		imgs, err := c.Images()
		if err != nil {
			return err
		}
		return writeJSON(w, cacheImagesReply{Images: imgs})
	case "usage":
		return writeJSON(w, cacheUsageReply{Bytes: c.Size()})
	case "verify":
		return s.streamVerify(w, c)
	case "prune":
		to, err := strconv.ParseInt(r.URL.Query().Get("to"), 10, 64)
		if err != nil || to < 0 {
			return newError(codeSizeInvalid, "prune needs ?to= a number of bytes")
		}
		n, freed, err := c.Prune(to)
		if err != nil {
			return err
		}
		return writeJSON(w, cachePruneReply{Blobs: n, Freed: freed})
	case "clear":
		if err := clearRunning(c); err != nil {
			return err
		}
		return writeJSON(w, struct{}{})
	}
	return newError(codeNameUnknown, "no such cache operation: "+op)
}

// clearRunning empties the running mirror's cache. A download that
// finishes meanwhile puts its blob into a folder being removed, which then
// is not empty; a second or third pass removes it too.
func clearRunning(c *store.Cache) error {
	var err error
	for range 3 {
		if err = c.Clear(); err == nil {
			return nil
		}
	}
	return err
}

// streamVerify runs Verify on the running mirror's cache, sending its
// progress as it goes (a large cache takes minutes) and then its result,
// one cacheVerifyLine a line.
func (s *server) streamVerify(w *recorder, c *store.Cache) error {
	w.Header().Set("Content-Type", "application/x-ndjson")
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	send := func(line cacheVerifyLine) {
		_ = enc.Encode(line)
		_ = rc.Flush()
	}
	bad, err := c.Verify(func(done, total int) { send(cacheVerifyLine{Done: done, Total: total}) })
	last := cacheVerifyLine{Finished: true, Bad: digestStrings(bad)}
	if err != nil {
		last.Error = err.Error()
	}
	send(last)
	return nil
}

// writeJSON sends v as the JSON reply.
func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

// The cache API's replies.
type (
	cacheImagesReply struct {
		Images []CachedImage `json:"images"`
	}
	cacheUsageReply struct {
		Bytes int64 `json:"bytes"`
	}
	cachePruneReply struct {
		Blobs int   `json:"blobs"`
		Freed int64 `json:"freed"`
	}
	// cacheVerifyLine is one line of verify's reply: progress, or with
	// Finished the corrupt blobs removed and the error that stopped it.
	cacheVerifyLine struct {
		Done     int      `json:"done,omitempty"`
		Total    int      `json:"total,omitempty"`
		Finished bool     `json:"finished,omitempty"`
		Bad      []string `json:"bad,omitempty"`
		Error    string   `json:"error,omitempty"`
	}
)

// CacheStore is a cache directory as the cache commands use it: opened by
// the command itself, or through the mirror that runs on it.
type CacheStore interface {
	// Images lists the cached tags, as store.Cache.Images.
	Images() ([]CachedImage, error)
	// Bytes is the bytes of blobs in the cache.
	Bytes() (int64, error)
	// Verify checks every blob, as store.Cache.Verify, and returns the
	// digests of the corrupt ones, removed.
	Verify(progress func(done, total int)) ([]string, error)
	// Prune evicts down to bytes, as store.Cache.Prune.
	Prune(to int64) (blobs int, freed int64, err error)
	// Clear empties the cache, as store.Cache.Clear.
	Clear() error
	// Close lets go of the directory.
	Close()
}

// OpenCacheStore opens the cache directory dir for the cache commands:
// itself when no mirror runs on it; through the running mirror's cache API
// when one does, whose address is then via. A directory held by anything
// else (another cache command) is ErrCacheInUse.
func OpenCacheStore(dir string) (cs CacheStore, via string, err error) {
	c, err := store.Open(dir, store.Options{})
	if err == nil {
		return localCache{c}, "", nil
	}
	if !errors.Is(err, ErrCacheInUse) {
		return nil, "", err
	}
	addr := store.HolderAddr(dir)
	if addr == "" {
		return nil, "", err
	}
	via = clientsetup.ClientHost(addr)
	return &cacheClient{dir: dir, base: "http://" + via, http: &http.Client{}, inUse: err}, via, nil
}

// localCache is a cache the command opened itself, as a CacheStore.
type localCache struct{ c *store.Cache }

func (l localCache) Images() ([]CachedImage, error) { return l.c.Images() }
func (l localCache) Bytes() (int64, error)          { return l.c.Size(), nil }
func (l localCache) Verify(progress func(done, total int)) ([]string, error) {
	bad, err := l.c.Verify(progress)
	return digestStrings(bad), err
}
func (l localCache) Prune(to int64) (int, int64, error) { return l.c.Prune(to) }
func (l localCache) Clear() error                       { return l.c.Clear() }
func (l localCache) Close()                             { l.c.Close() }

// cacheClient is the cache API of the mirror running on dir, as a
// CacheStore.
type cacheClient struct {
	dir  string
	base string // http://host:port of the mirror
	http *http.Client
	// inUse is the lock's error, returned when the mirror turns out to
	// have no cache API (a hubmirror from before it).
	inUse error
}

// Images lists the running mirror's cached tags.
func (c *cacheClient) Images() ([]CachedImage, error) {
	var reply cacheImagesReply
	return reply.Images, c.call(http.MethodGet, "images", &reply)
}

// Bytes is the bytes of blobs in the running mirror's cache.
func (c *cacheClient) Bytes() (int64, error) {
	var reply cacheUsageReply
	return reply.Bytes, c.call(http.MethodGet, "usage", &reply)
}

// Prune has the running mirror evict down to bytes.
func (c *cacheClient) Prune(to int64) (int, int64, error) {
	var reply cachePruneReply
	err := c.call(http.MethodPost, "prune?to="+strconv.FormatInt(to, 10), &reply)
	return reply.Blobs, reply.Freed, err
}

// Clear has the running mirror empty its cache.
func (c *cacheClient) Clear() error {
	return c.call(http.MethodPost, "clear", &struct{}{})
}

// Close does nothing: the mirror keeps the directory.
func (c *cacheClient) Close() {}

// Verify has the running mirror check every blob, passing its progress
// on to progress as it comes.
func (c *cacheClient) Verify(progress func(done, total int)) ([]string, error) {
	resp, err := c.send(http.MethodPost, "verify")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var line cacheVerifyLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return nil, fmt.Errorf(i18n.Key("the running mirror: %w"), err)
		}
		switch {
		case line.Finished && line.Error != "":
			return line.Bad, fmt.Errorf(i18n.Key("the running mirror: %w"), errors.New(line.Error))
		case line.Finished:
			return line.Bad, nil
		case progress != nil:
			progress(line.Done, line.Total)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf(i18n.Key("the running mirror: %w"), err)
	}
	return nil, errors.New(i18n.Key("the running mirror stopped before verify finished"))
}

// call sends one request and decodes its JSON reply into out.
func (c *cacheClient) call(method, op string, out any) error {
	resp, err := c.send(method, op)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf(i18n.Key("the running mirror: %w"), err)
	}
	return nil
}

// send sends one request with the key from the directory and returns the
// reply when it is 200. A 401 means the mirror had not written its key
// yet, or a mirror of an earlier run had: it has now, and the request is
// sent once more with the key read again.
func (c *cacheClient) send(method, op string) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequest(method, c.base+cacheAPIPrefix+op, nil)
		if err != nil {
			return nil, err
		}
		if key, err := os.ReadFile(filepath.Join(c.dir, cacheKeyFile)); err == nil {
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(key)))
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, fmt.Errorf(i18n.Key("the mirror running on this cache (%s) does not answer: %w"), c.base, err)
		}
		switch {
		case resp.StatusCode == http.StatusOK:
			return resp, nil
		case resp.StatusCode == http.StatusUnauthorized && attempt == 0:
			drain(resp)
			continue
		case resp.StatusCode == http.StatusNotFound: // a hubmirror from before the cache API
			drain(resp)
			return nil, c.inUse
		}
		defer resp.Body.Close()
		return nil, fmt.Errorf(i18n.Key("the running mirror: %w"), replyError(resp))
	}
}

// digestStrings writes digests as the strings the cache commands print.
func digestStrings(ds []digest.Digest) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

// drain discards a little of a reply's body so the connection can be
// reused.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
}

// replyError is the message of an error reply of the cache API.
func replyError(resp *http.Response) error {
	var body struct {
		Errors []ociError `json:"errors"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(raw, &body) == nil && len(body.Errors) > 0 {
		return errors.New(body.Errors[0].Message)
	}
	return errors.New(resp.Status)
}
