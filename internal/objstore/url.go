package objstore

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// Config says where a store is: a bucket, a key prefix inside it, and the
// server. ParseURL makes one from the --store URL and String writes it
// back.
type Config struct {
	// Bucket is the bucket's name.
	Bucket string
	// Prefix is put before every key, with a "/" between: "team/cache"
	// keeps the store's objects under team/cache/. "" is the whole bucket.
	// It has no leading or trailing "/".
	Prefix string
	// Endpoint is the server's URL, http:// or https:// and a host with
	// an optional port, no path: "https://s3.eu-central-1.amazonaws.com",
	// "http://127.0.0.1:8333". "" is AWS S3.
	Endpoint string
	// Region is the bucket's region, "" to let the client ask the server.
	Region string
	// PathStyle puts the bucket in the URL's path (http://host/bucket/key),
	// as MinIO, SeaweedFS and Ceph need without wildcard DNS; false lets
	// the client choose, which is the bucket in the host name for AWS S3.
	PathStyle bool
}

// awsEndpoint is the endpoint of a Config without one.
const awsEndpoint = "https://s3.amazonaws.com"

// queryKeys are the query keys a store URL may have, as ParseURL's error
// lists them.
const queryKeys = "endpoint, region and path_style"

// ParseURL parses a store URL, s3://BUCKET/PREFIX?endpoint=URL&region=R&path_style=true.
// Its errors say what to change. The URL must not hold credentials: they
// come from the environment, the shared credentials file or the keyring.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url's errors quote the URL, which may hold a secret.
		return Config{}, errors.New(i18n.Key("the store URL does not parse: write it as s3://BUCKET/PREFIX?endpoint=URL"))
	}
	shown := redactedURL(u)
	if u.Scheme != "s3" {
		return Config{}, fmt.Errorf(i18n.Key("store URL %q: it must start with s3:// (s3://BUCKET/PREFIX?endpoint=URL)"), shown)
	}
	if u.User != nil {
		return Config{}, fmt.Errorf(i18n.Key("store URL %q holds credentials: remove them and set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or put them in ~/.aws/credentials"), shown)
	}
	if u.Opaque != "" || u.Host == "" {
		return Config{}, fmt.Errorf(i18n.Key("store URL %q has no bucket: write s3://BUCKET/PREFIX"), shown)
	}
	if u.Port() != "" || !validBucket(u.Host) {
		return Config{}, fmt.Errorf(i18n.Key("store URL %q: %q is not a bucket name: use 3 to 63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit"), shown, u.Host)
	}
	if u.Fragment != "" {
		return Config{}, fmt.Errorf(i18n.Key("store URL %q: remove the #fragment"), shown)
	}
	cfg := Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}
	if strings.Contains(cfg.Prefix, "//") {
		return Config{}, fmt.Errorf(i18n.Key("store URL %q: the prefix %q has an empty part between slashes"), shown, cfg.Prefix)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, fmt.Errorf(i18n.Key("store URL %q: its query does not parse: write ?endpoint=URL&region=R&path_style=true"), shown)
	}
	for key, vals := range q {
		if len(vals) > 1 {
			return Config{}, fmt.Errorf(i18n.Key("store URL %q gives %s more than once: keep one"), shown, key)
		}
		v := vals[0]
		switch key {
		case "endpoint":
			if cfg.Endpoint, err = parseEndpoint(v); err != nil {
				return Config{}, fmt.Errorf(i18n.Key("store URL %q: %w"), shown, err)
			}
		case "region":
			if !validRegion(v) {
				return Config{}, fmt.Errorf(i18n.Key("store URL %q: region %q is not a region name: use lowercase letters, digits and hyphens (us-east-1), or leave region out"), shown, v)
			}
			cfg.Region = v
		case "path_style":
			if cfg.PathStyle, err = strconv.ParseBool(v); err != nil {
				return Config{}, fmt.Errorf(i18n.Key("store URL %q: path_style=%q must be true or false"), shown, v)
			}
		default:
			return Config{}, fmt.Errorf(i18n.Key("store URL %q: unknown query key %q: the keys are %s"), shown, key, queryKeys)
		}
	}
	return cfg, nil
}

// redactedURL is a store URL as messages show it: without the passwords
// of the URL and of its endpoint.
func redactedURL(u *url.URL) string {
	r := *u
	if q, err := url.ParseQuery(u.RawQuery); err != nil {
		r.RawQuery = "…"
	} else if eps, ok := q["endpoint"]; ok {
		for i, ep := range eps {
			eps[i] = redactedEndpoint(ep)
		}
		r.RawQuery = q.Encode()
	}
	return r.Redacted()
}

// redactedEndpoint is an endpoint URL without its password, if any.
func redactedEndpoint(raw string) string {
	e, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "@") {
			return "…"
		}
		return raw
	}
	return e.Redacted()
}

// parseEndpoint checks an endpoint URL and returns it as scheme://host.
func parseEndpoint(raw string) (string, error) {
	e, err := url.Parse(raw)
	if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Opaque != "" {
		return "", fmt.Errorf(i18n.Key("endpoint %q must start with http:// or https://"), redactedEndpoint(raw))
	}
	if e.Host == "" {
		return "", fmt.Errorf(i18n.Key("endpoint %q has no host: write http://HOST:PORT or https://HOST"), e.Redacted())
	}
	if e.User != nil || (e.Path != "" && e.Path != "/") || e.RawQuery != "" || e.Fragment != "" {
		return "", fmt.Errorf(i18n.Key("endpoint %q must be only a scheme and a host with an optional port: the bucket and prefix go in s3://BUCKET/PREFIX"), e.Redacted())
	}
	return e.Scheme + "://" + e.Host, nil
}

// validBucket reports whether name follows S3's rules for bucket names
// (without the rule against names that look like IP addresses).
func validBucket(name string) bool {
	if len(name) < 3 || len(name) > 63 || strings.Contains(name, "..") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && ((c != '-' && c != '.') || i == 0 || i == len(name)-1) {
			return false
		}
	}
	return true
}

// validRegion reports whether r looks like a region name.
func validRegion(r string) bool {
	if r == "" || len(r) > 64 {
		return false
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// String is c as a store URL that ParseURL reads back to c.
func (c Config) String() string {
	u := url.URL{Scheme: "s3", Host: c.Bucket}
	if c.Prefix != "" {
		u.Path = "/" + c.Prefix
	}
	q := url.Values{}
	if c.Endpoint != "" {
		q.Set("endpoint", c.Endpoint)
	}
	if c.Region != "" {
		q.Set("region", c.Region)
	}
	if c.PathStyle {
		q.Set("path_style", "true")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// server is how messages name the store's server: its endpoint, or AWS S3.
func (c Config) server() string {
	if c.Endpoint == "" {
		return "AWS S3"
	}
	return c.Endpoint
}
