package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/objstore"
	"github.com/hubmirror/hubmirror/internal/settings/secrets"
)

// KeyringCredentials reads registry accounts from the OS keyring by
// registry name. When the keyring cannot be used it says so once, in one
// line, and the mirror pulls anonymously.
func KeyringCredentials() mirror.Credentials { return ChainedKeyringCredentials(nil) }

// ChainedKeyringCredentials is KeyringCredentials for a mirror whose
// registries may go to other endpoints: upstreams returns the "upstreams"
// in force. A registry sent to an endpoint that is not its built-in one
// (docker.io to a team mirror at https://team.example:5000) uses the
// account stored for that endpoint's host (`hubmirror login
// team.example:5000`) when there is one, and the registry's own account
// otherwise. upstreams may be nil: registry names alone.
func ChainedKeyringCredentials(upstreams func() map[string]string) mirror.Credentials {
	var once sync.Once
	return func(registry string) (string, string, bool, error) {
		for _, key := range credentialKeys(registry, upstreams) {
			c, err := secrets.Get(key)
			if errors.Is(err, secrets.ErrNotFound) {
				continue
			}
			if err != nil {
				var first error
				once.Do(func() { first = err })
				return "", "", false, first
			}
			return c.Username, c.Password, true, nil
		}
		return "", "", false, nil
	}
}

// credentialKeys are the keyring entries that may hold registry's
// account, in the order they are tried: the host of its endpoint when
// that endpoint is not the registry's built-in one, then the registry's
// name.
func credentialKeys(registry string, upstreams func() map[string]string) []string {
	if upstreams == nil {
		return []string{registry}
	}
	endpoint, ok := upstreams()[registry]
	if !ok || endpoint == mirror.BuiltinUpstreams()[registry] {
		return []string{registry}
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || strings.EqualFold(u.Host, registry) {
		return []string{registry}
	}
	return []string{strings.ToLower(u.Host), registry}
}

// awsHost is the host in the keyring name of a store without an endpoint,
// which is AWS S3's.
const awsHost = "s3.amazonaws.com"

// StoreAccountName is the name the OS keyring keeps the account of the
// object store cfg under: "s3://", the endpoint's host (with its port
// unless it is the scheme's default), "/" and the bucket, as in
// "s3://minio.example:9000/team-bucket". The prefix and the region are
// not in it: one account serves every prefix of a bucket. Registry names
// never start with "s3://", so the two kinds of entry cannot meet.
func StoreAccountName(cfg objstore.Config) string {
	host := awsHost
	if u, err := url.Parse(cfg.Endpoint); err == nil && u.Host != "" {
		host = strings.ToLower(u.Host)
		if port := u.Port(); (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
			host = strings.ToLower(u.Hostname())
			if strings.Contains(host, ":") {
				host = "[" + host + "]" // an IPv6 address
			}
		}
	}
	return "s3://" + host + "/" + cfg.Bucket
}

// StoreAccount parses a store URL (s3://BUCKET/PREFIX?endpoint=URL…, as
// --store takes it) and returns its configuration and the keyring name of
// its account (StoreAccountName).
func StoreAccount(storeURL string) (objstore.Config, string, error) {
	cfg, err := objstore.ParseURL(storeURL)
	if err != nil {
		return objstore.Config{}, "", err
	}
	return cfg, StoreAccountName(cfg), nil
}

// LoginStore checks an access key ID and its secret against the store at
// storeURL (objstore.Open: the bucket must exist and the keys may list it)
// and, only if they work, keeps them in the OS keyring under the store's
// StoreAccountName, which it returns. Its errors may name the access key
// ID, never the secret.
func LoginStore(ctx context.Context, storeURL, accessKeyID, secret string) (string, error) {
	cfg, name, err := StoreAccount(storeURL)
	if err != nil {
		return "", err
	}
	keys := objstore.Keys{AccessKeyID: accessKeyID, SecretAccessKey: secret}
	if _, err := objstore.Open(ctx, cfg, objstore.Static(keys)); err != nil {
		return name, fmt.Errorf(i18n.Key("login failed, nothing was stored: %w"), err)
	}
	return name, secrets.Set(name, secrets.Credential{Username: accessKeyID, Password: secret})
}

// LogoutStore removes the account of the store at storeURL from the OS
// keyring and returns its keyring name; secrets.ErrNotFound when none was
// stored.
func LogoutStore(storeURL string) (string, error) {
	_, name, err := StoreAccount(storeURL)
	if err != nil {
		return "", err
	}
	return name, secrets.Delete(name)
}

// StoreKeyringCredentials reads the account `hubmirror login` stored for
// the store at storeURL from the OS keyring, when it is called (when the
// mirror opens the store), not before. It returns an error wrapping
// objstore.ErrNoCredentials when no account is stored, and one wrapping
// both that and secrets.ErrUnavailable when the keyring cannot be used,
// so that a chain goes on to its next source.
func StoreKeyringCredentials(storeURL string) objstore.Credentials {
	return func(context.Context) (objstore.Keys, error) {
		_, name, err := StoreAccount(storeURL)
		if err != nil {
			return objstore.Keys{}, err
		}
		c, err := secrets.Get(name)
		switch {
		case errors.Is(err, secrets.ErrNotFound):
			return objstore.Keys{}, fmt.Errorf(i18n.Key("%w in the OS keyring for %s"), objstore.ErrNoCredentials, name)
		case errors.Is(err, secrets.ErrUnavailable):
			return objstore.Keys{}, &keyringUnavailable{err: err}
		case err != nil:
			// secrets names the entry by its keyring name, which is not
			// what login takes: say the store URL to log in to again.
			return objstore.Keys{}, fmt.Errorf(i18n.Key("the account for %s in the OS keyring is damaged: run hubmirror login '%s' again"), name, storeURL)
		case c.Password == "":
			return objstore.Keys{}, fmt.Errorf(i18n.Key("the account for %s in the OS keyring has no secret access key: run hubmirror login '%s' again"), name, storeURL)
		}
		return objstore.Keys{AccessKeyID: c.Username, SecretAccessKey: c.Password}, nil
	}
}

// keyringUnavailable is StoreKeyringCredentials' error when the keyring
// cannot be used: no keys from there, as errors.Is with
// objstore.ErrNoCredentials says, and why, with secrets.ErrUnavailable.
type keyringUnavailable struct{ err error }

func (e *keyringUnavailable) Error() string { return e.err.Error() }

// Unwrap is both the keyring's error and objstore.ErrNoCredentials.
func (e *keyringUnavailable) Unwrap() []error { return []error{e.err, objstore.ErrNoCredentials} }

// StoreCredentials are the keys of the object store at storeURL for the
// mirror of `serve` and the desktop app, from the first of these that has
// any: the AWS environment variables (AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY), the OS keyring's account for the store
// (`hubmirror login s3://…`), the shared credentials file
// (~/.aws/credentials). A source whose keys are broken (one variable of
// two set, a damaged keyring entry) stops the chain with its error
// rather than falling through to other keys. A keyring that cannot be
// used is passed over, as on a server without a desktop; when no source
// has keys the error says how to give them and why the keyring was not
// read.
func StoreCredentials(storeURL string) objstore.Credentials {
	sources := []objstore.Credentials{objstore.EnvCredentials(), StoreKeyringCredentials(storeURL), objstore.FileCredentials("", "")}
	return func(ctx context.Context) (objstore.Keys, error) {
		unavailable := false // the keyring could not be read
		for _, source := range sources {
			k, err := source(ctx)
			if !errors.Is(err, objstore.ErrNoCredentials) {
				return k, err
			}
			unavailable = unavailable || errors.Is(err, secrets.ErrUnavailable)
		}
		_, name, err := StoreAccount(storeURL)
		if err != nil {
			return objstore.Keys{}, err
		}
		file, profile := objstore.SharedFile()
		if unavailable {
			// secrets' own text goes on about anonymous pulls, which
			// a store has none of: this one says what to do instead.
			return objstore.Keys{}, fmt.Errorf(i18n.Key("%w for %s: the OS keyring, where hubmirror login keeps them, is not available (on Linux, run a Secret Service such as GNOME Keyring and unlock it); or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or write them as aws_access_key_id and aws_secret_access_key under [%s] in %s"),
				objstore.ErrNoCredentials, name, profile, file)
		}
		return objstore.Keys{}, fmt.Errorf(i18n.Key("%w for %s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, run hubmirror login '%s', or write them as aws_access_key_id and aws_secret_access_key under [%s] in %s"),
			objstore.ErrNoCredentials, name, storeURL, profile, file)
	}
}
