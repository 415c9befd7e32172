package objstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// The errors a Store's methods wrap, for errors.Is.
var (
	// ErrNotFound: no object has the key.
	ErrNotFound = errors.New("no such object")
	// ErrExists: Create or PutAtomic with IfAbsent found an object under
	// the key, and left it alone.
	ErrExists = errors.New("the object exists")
	// ErrChanged: the object is no longer the version (ETag) Update or
	// SetMeta was given.
	ErrChanged = errors.New("the object has changed")
)

// UploadsDir is the directory under the prefix where PutAtomic uploads
// before an object appears under its key. Keys in it are not the
// caller's: Put methods refuse them and List skips them.
const UploadsDir = "uploads/"

// maxCopy is the largest object one server-side copy makes (S3's limit);
// larger ones are copied in parts.
const maxCopy = 5 << 30

// streamPartSize is the part size of an upload whose size is unknown:
// minio-go would otherwise size its parts for a 5 TiB object (537 MiB) and
// buffer one in memory. With 10,000 parts it allows 160 GiB.
const streamPartSize = 16 << 20

// maxMetaBytes is S3's limit on the user metadata of one object.
const maxMetaBytes = 2 << 10

// cleanupTimeout bounds the deletion of a temporary upload after its
// context was canceled.
const cleanupTimeout = 30 * time.Second

// Store is a bucket and prefix of an S3-compatible object store. Its
// methods take keys relative to the prefix and are safe for concurrent
// use.
type Store struct {
	cfg    Config
	client *minio.Client
	core   minio.Core
	// maxCopy is the largest object one CopyObject makes; tests lower it.
	maxCopy int64
}

// Info is what the store knows about an object.
type Info struct {
	// Key is the object's key, relative to the prefix.
	Key          string
	Size         int64
	LastModified time.Time
	// ETag identifies the object's version, for Update.
	ETag string
	// Meta is the user metadata, keys in lower case. List leaves it nil.
	Meta map[string]string
}

// Open connects to cfg's bucket with keys from creds and checks that the
// bucket exists and the keys may use it. Its errors say what to change;
// they never hold the secret.
func Open(ctx context.Context, cfg Config, creds Credentials) (*Store, error) {
	keys, err := creds(ctx)
	if err != nil {
		return nil, err
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = awsEndpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf(i18n.Key("endpoint %q must start with http:// or https://"), cfg.Endpoint)
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.New(&provider{creds: creds, first: &keys}),
		Secure:       u.Scheme == "https",
		Region:       cfg.Region,
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf(i18n.Key("store %s: %w"), cfg.server(), err)
	}
	s := &Store{cfg: cfg, client: client, core: minio.Core{Client: client}, maxCopy: maxCopy}
	// A listing of one key, not a HEAD of the bucket: an error to a HEAD
	// has no body, so every refusal would be AccessDenied, where a GET
	// says whether the key or the secret is wrong.
	prefix := ""
	if cfg.Prefix != "" {
		prefix = cfg.Prefix + "/"
	}
	for o := range client.ListObjectsIter(ctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix, MaxKeys: 1}) {
		if o.Err != nil {
			return nil, s.openError(o.Err, keys.AccessKeyID)
		}
		break
	}
	return s, nil
}

// openError explains why Open could not reach the bucket.
func (s *Store) openError(err error, accessKey string) error {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.Code {
		case "NoSuchBucket":
			return fmt.Errorf(i18n.Key("bucket %q does not exist on %s: create it, or correct the bucket in the store URL"), s.cfg.Bucket, s.cfg.server())
		case "InvalidAccessKeyId":
			return fmt.Errorf(i18n.Key("%s does not know the access key %q: correct AWS_ACCESS_KEY_ID or aws_access_key_id"), s.cfg.server(), accessKey)
		case "SignatureDoesNotMatch":
			return fmt.Errorf(i18n.Key("%s refused the secret of access key %q: correct AWS_SECRET_ACCESS_KEY or aws_secret_access_key"), s.cfg.server(), accessKey)
		case "AccessDenied":
			return fmt.Errorf(i18n.Key("access key %q may not use bucket %q on %s: allow it to list, read, write and delete objects there"), accessKey, s.cfg.Bucket, s.cfg.server())
		case "AuthorizationHeaderMalformed", "InvalidRegion":
			return fmt.Errorf(i18n.Key("%s wants another region for bucket %q (%s): correct region= in the store URL"), s.cfg.server(), s.cfg.Bucket, resp.Message)
		}
		return fmt.Errorf(i18n.Key("%s answered %s for bucket %q: %s"), s.cfg.server(), resp.Code, s.cfg.Bucket, resp.Message)
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf(i18n.Key("cannot reach the store at %s (%v): check endpoint= in the store URL and that the server runs"), s.cfg.server(), err)
	}
	return fmt.Errorf(i18n.Key("store %s: %w"), s.cfg.server(), err)
}

// Config is the store's configuration.
func (s *Store) Config() Config { return s.cfg }

// object is key's name in the bucket, or an error saying why key is not
// one the caller may use.
func (s *Store) object(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "//") {
		return "", fmt.Errorf("objstore: key %q must be non-empty and have no leading or doubled slash", key)
	}
	if s.cfg.Prefix == "" {
		return key, nil
	}
	return s.cfg.Prefix + "/" + key, nil
}

// userObject is object for a key outside UploadsDir.
func (s *Store) userObject(key string) (string, error) {
	if strings.HasPrefix(key, UploadsDir) {
		return "", fmt.Errorf("objstore: key %q is in %s, which PutAtomic keeps for its uploads", key, UploadsDir)
	}
	return s.object(key)
}

// relKey is an object's key relative to the prefix.
func (s *Store) relKey(object string) string {
	if s.cfg.Prefix == "" {
		return object
	}
	return strings.TrimPrefix(object, s.cfg.Prefix+"/")
}

// fail wraps err of op on key, mapping S3's answers to the package's
// errors.
func fail(op, key string, err error) error {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch {
		case resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound && resp.Code != "NoSuchBucket":
			return fmt.Errorf("objstore: %s %s: %w", op, key, ErrNotFound)
		case resp.Code == "PreconditionFailed" || resp.StatusCode == http.StatusPreconditionFailed:
			return fmt.Errorf("objstore: %s %s: %w", op, key, ErrChanged)
		}
	}
	return fmt.Errorf("objstore: %s %s: %w", op, key, err)
}

// info turns minio-go's ObjectInfo into an Info.
func (s *Store) info(o minio.ObjectInfo) Info {
	i := Info{Key: s.relKey(o.Key), Size: o.Size, LastModified: o.LastModified, ETag: o.ETag}
	if len(o.UserMetadata) > 0 {
		i.Meta = make(map[string]string, len(o.UserMetadata))
		for k, v := range o.UserMetadata {
			i.Meta[strings.ToLower(k)] = v
		}
	}
	return i
}

// Stat returns what the store knows about the object under key, or an
// error wrapping ErrNotFound.
func (s *Store) Stat(ctx context.Context, key string) (Info, error) {
	obj, err := s.object(key)
	if err != nil {
		return Info{}, err
	}
	o, err := s.client.StatObject(ctx, s.cfg.Bucket, obj, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, fail("stat", key, err)
	}
	return s.info(o), nil
}

// Exists reports whether an object is under key.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	_, err := s.Stat(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Get reads n bytes of the object under key from offset off, or to its end
// when n < 0, in one request: only that range crosses the network. An
// offset at or past the end is an error.
func (s *Store) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	obj, err := s.object(key)
	if err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("objstore: get %s: negative offset %d", key, off)
	}
	if n == 0 {
		if _, err := s.Stat(ctx, key); err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	opts := minio.GetObjectOptions{}
	switch {
	case n > 0:
		err = opts.SetRange(off, off+n-1)
	case off > 0:
		err = opts.SetRange(off, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("objstore: get %s: %w", key, err)
	}
	body, _, _, err := s.core.GetObject(ctx, s.cfg.Bucket, obj, opts)
	if err != nil {
		return nil, fail("get", key, err)
	}
	return body, nil
}

// PutOptions are PutAtomic's options.
type PutOptions struct {
	// Meta is the object's user metadata: keys of lowercase letters,
	// digits and hyphens, printable ASCII values, 2 KiB in all.
	Meta map[string]string
	// ContentType is the object's Content-Type, "" for the server's
	// default.
	ContentType string
	// Verify, when set, runs after the last byte is uploaded and before
	// the object appears under its key; an error keeps it from appearing
	// and is PutAtomic's. It is where a caller checks the digest of what
	// it streamed.
	Verify func() error
	// IfAbsent makes the object appear only if none is under the key;
	// else PutAtomic returns an error wrapping ErrExists and the object
	// there stays as it was.
	IfAbsent bool
}

// PutAtomic stores size bytes of r (size -1: up to EOF) under key so that
// the object appears only when complete and verified: it uploads to a
// temporary key in UploadsDir, runs opts.Verify, copies the upload to key
// on the server, and deletes the upload. A PutAtomic that fails, or whose
// process dies, leaves nothing under key; it may leave its upload, which
// CleanUploads removes.
//
// The final copy is one request up to 5 GiB and is then conditional on
// the server (If-None-Match for IfAbsent); a larger object is copied in
// parts, and IfAbsent is then a check just before the copy.
func (s *Store) PutAtomic(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Info, error) {
	dst, err := s.userObject(key)
	if err != nil {
		return Info{}, err
	}
	if err := checkMeta(opts.Meta); err != nil {
		return Info{}, fmt.Errorf("objstore: put %s: %w", key, err)
	}
	tmpKey := UploadsDir + uploadName()
	tmp, _ := s.object(tmpKey)
	putOpts := minio.PutObjectOptions{UserMetadata: opts.Meta, ContentType: opts.ContentType}
	if size < 0 {
		putOpts.PartSize = streamPartSize
	}
	up, err := s.client.PutObject(ctx, s.cfg.Bucket, tmp, r, size, putOpts)
	if err != nil {
		s.dropUpload(tmp)
		return Info{}, fail("upload", key, err)
	}
	if opts.Verify != nil {
		if err := opts.Verify(); err != nil {
			s.dropUpload(tmp)
			return Info{}, err
		}
	}
	defer s.dropUpload(tmp)
	if up.Size > s.maxCopy {
		return s.copyLarge(ctx, tmp, dst, key, opts.IfAbsent)
	}
	headers := map[string]string{}
	if opts.IfAbsent {
		headers["If-None-Match"] = "*"
	}
	if _, err := s.core.CopyObject(ctx, s.cfg.Bucket, tmp, s.cfg.Bucket, dst, headers, minio.CopySrcOptions{}, minio.PutObjectOptions{}); err != nil {
		err = fail("put", key, err)
		if opts.IfAbsent && errors.Is(err, ErrChanged) {
			return Info{}, fmt.Errorf("objstore: put %s: %w", key, ErrExists)
		}
		return Info{}, err
	}
	return s.Stat(ctx, key)
}

// copyLarge copies an upload over maxCopy to dst in parts.
func (s *Store) copyLarge(ctx context.Context, tmp, dst, key string, ifAbsent bool) (Info, error) {
	if ifAbsent {
		if ok, err := s.Exists(ctx, key); err != nil || ok {
			if ok {
				err = fmt.Errorf("objstore: put %s: %w", key, ErrExists)
			}
			return Info{}, err
		}
	}
	_, err := s.client.ComposeObject(ctx,
		minio.CopyDestOptions{Bucket: s.cfg.Bucket, Object: dst},
		minio.CopySrcOptions{Bucket: s.cfg.Bucket, Object: tmp})
	if err != nil {
		return Info{}, fail("put", key, err)
	}
	return s.Stat(ctx, key)
}

// dropUpload deletes a temporary upload and any multipart upload left for
// it, on a context of its own: the caller's may be what was canceled.
// What it cannot delete, CleanUploads does later.
func (s *Store) dropUpload(tmp string) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	s.client.RemoveObject(ctx, s.cfg.Bucket, tmp, minio.RemoveObjectOptions{})
	s.client.RemoveIncompleteUpload(ctx, s.cfg.Bucket, tmp)
}

// uploadName is a temporary upload's name: random, so that uploads of
// one key by several instances do not meet.
func uploadName() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// CleanUploads deletes what PutAtomic left in UploadsDir when it was
// killed, older than age by the server's clock: temporary objects and
// multipart uploads never completed. An age shorter than the longest
// upload may delete one in progress, which then fails. It returns how
// many it deleted.
func (s *Store) CleanUploads(ctx context.Context, age time.Duration) (int, error) {
	prefix, _ := s.object(UploadsDir)
	n := 0
	for o := range s.client.ListObjectsIter(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return n, fail("list", UploadsDir, o.Err)
		}
		if time.Since(o.LastModified) < age {
			continue
		}
		if err := s.client.RemoveObject(ctx, s.cfg.Bucket, o.Key, minio.RemoveObjectOptions{}); err != nil {
			return n, fail("delete", s.relKey(o.Key), err)
		}
		n++
	}
	for u := range s.client.ListIncompleteUploads(ctx, s.cfg.Bucket, prefix, true) {
		if u.Err != nil {
			return n, fail("list incomplete uploads", UploadsDir, u.Err)
		}
		if time.Since(u.Initiated) < age {
			continue
		}
		if err := s.core.AbortMultipartUpload(ctx, s.cfg.Bucket, u.Key, u.UploadID); err != nil {
			return n, fail("abort upload", s.relKey(u.Key), err)
		}
		n++
	}
	return n, nil
}

// Put stores data under key, replacing what is there. One PUT is atomic
// in S3: readers see the old object or the new one.
func (s *Store) Put(ctx context.Context, key string, data []byte, meta map[string]string) (Info, error) {
	return s.putBytes(ctx, "put", key, data, meta, func(*minio.PutObjectOptions) {})
}

// Create stores data under key only if no object is there, else returns
// an error wrapping ErrExists: the server decides (If-None-Match: *), so
// of several instances creating one key at once exactly one succeeds.
func (s *Store) Create(ctx context.Context, key string, data []byte, meta map[string]string) (Info, error) {
	i, err := s.putBytes(ctx, "create", key, data, meta, func(o *minio.PutObjectOptions) { o.SetMatchETagExcept("*") })
	if errors.Is(err, ErrChanged) {
		return Info{}, fmt.Errorf("objstore: create %s: %w", key, ErrExists)
	}
	return i, err
}

// Update replaces the object under key with data only if it is still the
// version etag (from Stat or an earlier Put), else returns an error
// wrapping ErrChanged, or ErrNotFound when it is gone: a compare-and-swap
// decided by the server (If-Match).
func (s *Store) Update(ctx context.Context, key string, data []byte, meta map[string]string, etag string) (Info, error) {
	if etag == "" {
		return Info{}, fmt.Errorf("objstore: update %s: no ETag to compare with", key)
	}
	return s.putBytes(ctx, "update", key, data, meta, func(o *minio.PutObjectOptions) { o.SetMatchETag(etag) })
}

// putBytes is Put, Create and Update: one PUT of data with the
// preconditions cond sets.
func (s *Store) putBytes(ctx context.Context, op, key string, data []byte, meta map[string]string, cond func(*minio.PutObjectOptions)) (Info, error) {
	obj, err := s.userObject(key)
	if err != nil {
		return Info{}, err
	}
	if err := checkMeta(meta); err != nil {
		return Info{}, fmt.Errorf("objstore: %s %s: %w", op, key, err)
	}
	opts := minio.PutObjectOptions{UserMetadata: meta, DisableMultipart: true}
	cond(&opts)
	up, err := s.client.PutObject(ctx, s.cfg.Bucket, obj, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		return Info{}, fail(op, key, err)
	}
	return Info{Key: key, Size: up.Size, LastModified: up.LastModified, ETag: up.ETag, Meta: lowerKeys(meta)}, nil
}

// lowerKeys is meta with its keys in lower case, as Info has them.
func lowerKeys(meta map[string]string) map[string]string {
	if len(meta) == 0 {
		return nil
	}
	m := make(map[string]string, len(meta))
	for k, v := range meta {
		m[strings.ToLower(k)] = v
	}
	return m
}

// SetMeta changes the user metadata of the object under key: each key of
// meta is set, or removed when its value is "". The server copies the
// object onto itself with the new metadata, on the condition that it is
// still the version Stat saw, so a concurrent change is not undone (the
// error then wraps ErrChanged). It is how last-use stamps are written.
// Its last-modified time becomes now.
func (s *Store) SetMeta(ctx context.Context, key string, meta map[string]string) (Info, error) {
	obj, err := s.object(key)
	if err != nil {
		return Info{}, err
	}
	o, err := s.client.StatObject(ctx, s.cfg.Bucket, obj, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, fail("set metadata of", key, err)
	}
	return s.setMeta(ctx, key, obj, o, meta)
}

// setMeta is SetMeta of the version o of key's object obj.
func (s *Store) setMeta(ctx context.Context, key, obj string, o minio.ObjectInfo, meta map[string]string) (Info, error) {
	merged := s.info(o).Meta
	if merged == nil {
		merged = map[string]string{}
	}
	for k, v := range meta {
		if v == "" {
			delete(merged, strings.ToLower(k))
		} else {
			merged[strings.ToLower(k)] = v
		}
	}
	if err := checkMeta(merged); err != nil {
		return Info{}, fmt.Errorf("objstore: set metadata of %s: %w", key, err)
	}
	var err error
	if o.Size > s.maxCopy {
		_, err = s.client.ComposeObject(ctx,
			minio.CopyDestOptions{Bucket: s.cfg.Bucket, Object: obj, UserMetadata: merged, ReplaceMetadata: true, ContentType: o.ContentType},
			minio.CopySrcOptions{Bucket: s.cfg.Bucket, Object: obj, MatchETag: o.ETag})
	} else {
		headers := map[string]string{
			"x-amz-metadata-directive":   "REPLACE",
			"x-amz-copy-source-if-match": `"` + o.ETag + `"`,
		}
		if o.ContentType != "" {
			headers["Content-Type"] = o.ContentType
		}
		for k, v := range merged {
			headers["x-amz-meta-"+k] = v
		}
		_, err = s.core.CopyObject(ctx, s.cfg.Bucket, obj, s.cfg.Bucket, obj, headers, minio.CopySrcOptions{}, minio.PutObjectOptions{})
	}
	if err != nil {
		return Info{}, fail("set metadata of", key, err)
	}
	return s.Stat(ctx, key)
}

// checkMeta checks user metadata against what S3 carries in headers.
func checkMeta(meta map[string]string) error {
	total := 0
	for k, v := range meta {
		if k == "" {
			return errors.New("a metadata key is empty")
		}
		for _, c := range k {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("metadata key %q may have only letters, digits and hyphens", k)
			}
		}
		for _, c := range v {
			if c < 0x20 || c > 0x7e {
				return fmt.Errorf("metadata %s: its value may have only printable ASCII", k)
			}
		}
		total += len(k) + len(v)
	}
	if total > maxMetaBytes {
		return fmt.Errorf("metadata of %d bytes is over S3's %d", total, maxMetaBytes)
	}
	return nil
}

// Delete removes the object under key. A missing object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	obj, err := s.object(key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.cfg.Bucket, obj, minio.RemoveObjectOptions{}); err != nil {
		if err = fail("delete", key, err); errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	return nil
}

// List yields the objects whose keys start with prefix, in key order,
// without their metadata (Stat has it), and then an error if the listing
// failed. With a prefix outside UploadsDir it skips PutAtomic's uploads.
// Stopping the loop early stops the listing.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		full := prefix
		if s.cfg.Prefix != "" {
			full = s.cfg.Prefix + "/" + prefix
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		skipUploads := !strings.HasPrefix(prefix, UploadsDir)
		for o := range s.client.ListObjectsIter(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: full, Recursive: true}) {
			if o.Err != nil {
				yield(Info{}, fail("list", prefix, o.Err))
				return
			}
			i := s.info(o)
			if skipUploads && strings.HasPrefix(i.Key, UploadsDir) {
				continue
			}
			if !yield(i, nil) {
				return
			}
		}
	}
}

// PresignGet is a URL that reads the object under key without
// credentials until ttl has passed (1 s to 7 days), for a client sent
// there by a redirect. Its signature covers the key and the expiry: an
// edited URL is refused.
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration) (*url.URL, error) {
	obj, err := s.object(key)
	if err != nil {
		return nil, err
	}
	u, err := s.client.PresignedGetObject(ctx, s.cfg.Bucket, obj, ttl, nil)
	if err != nil {
		return nil, fmt.Errorf("objstore: presign %s: %w", key, err)
	}
	return u, nil
}
