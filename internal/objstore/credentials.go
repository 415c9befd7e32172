package objstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// Keys are an S3 access key, its secret and an optional session token.
// Printing them with any fmt verb or through log/slog shows the access key
// ID only.
type Keys struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Expires is when temporary keys stop working; the store asks its
	// Credentials again a minute before. Zero keys never expire.
	Expires time.Time
}

// redacted is k as it may be shown.
func (k Keys) redacted() string {
	token := ""
	if k.SessionToken != "" {
		token = " SessionToken:<hidden>"
	}
	return "{AccessKeyID:" + k.AccessKeyID + " SecretAccessKey:<hidden>" + token + "}"
}

// String shows the access key ID, never the secret.
func (k Keys) String() string { return k.redacted() }

// Format makes every fmt verb, %#v included, print String.
func (k Keys) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.redacted()) }

// LogValue makes log/slog print String.
func (k Keys) LogValue() slog.Value { return slog.StringValue(k.redacted()) }

// Credentials yields the keys the store signs its requests with. The store
// calls it when it opens and again when the keys it returned expire. A
// function of the caller's (the OS keyring, say) is one too.
type Credentials func(ctx context.Context) (Keys, error)

// ErrNoCredentials is what a Credentials returns when its source has no
// keys at all, as opposed to keys that are broken: DefaultCredentials then
// tries the next source.
var ErrNoCredentials = errors.New(i18n.Key("no S3 credentials"))

// Static is a Credentials that always yields k.
func Static(k Keys) Credentials {
	return func(context.Context) (Keys, error) { return k, nil }
}

// EnvCredentials reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN, as the AWS tools do.
func EnvCredentials() Credentials {
	return func(context.Context) (Keys, error) {
		k := Keys{
			AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
			SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
			SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
		}
		switch {
		case k.AccessKeyID == "" && k.SecretAccessKey == "":
			return Keys{}, fmt.Errorf(i18n.Key("%w in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"), ErrNoCredentials)
		case k.SecretAccessKey == "":
			return Keys{}, errors.New(i18n.Key("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both"))
		case k.AccessKeyID == "":
			return Keys{}, errors.New(i18n.Key("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not: set both"))
		}
		return k, nil
	}
}

// FileCredentials reads a profile of an AWS shared credentials file:
// path, or else $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials; profile,
// or else $AWS_PROFILE or "default". The profile's aws_access_key_id,
// aws_secret_access_key and aws_session_token are read, nothing else:
// unlike the AWS tools (and minio-go's file provider) it runs no
// credential_process and reads no ~/.aws/config, and its errors name a
// line by number, never by its text, which may be a secret.
func FileCredentials(path, profile string) Credentials {
	return func(context.Context) (Keys, error) {
		p, err := credentialsPath(path)
		if err != nil {
			return Keys{}, err
		}
		prof := profile
		if prof == "" {
			prof = os.Getenv("AWS_PROFILE")
		}
		if prof == "" {
			prof = "default"
		}
		return readProfile(p, prof)
	}
}

// credentialsPath is the shared credentials file FileCredentials reads.
func credentialsPath(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	if p := os.Getenv("AWS_SHARED_CREDENTIALS_FILE"); p != "" {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf(i18n.Key("%w: no home directory for ~/.aws/credentials; set AWS_SHARED_CREDENTIALS_FILE"), ErrNoCredentials)
	}
	return filepath.Join(home, ".aws", "credentials"), nil
}

// readProfile reads the keys of one profile of a shared credentials file:
// INI sections [name] holding key = value lines, # and ; comments.
func readProfile(path, profile string) (Keys, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Keys{}, fmt.Errorf(i18n.Key("%w: %s does not exist"), ErrNoCredentials, path)
	}
	if err != nil {
		return Keys{}, fmt.Errorf(i18n.Key("read the S3 credentials: %w"), err)
	}
	defer f.Close()
	var (
		k       Keys
		found   bool
		section string
		line    int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' || text[0] == ';' {
			continue
		}
		if name, ok := strings.CutPrefix(text, "["); ok {
			name, ok = strings.CutSuffix(name, "]")
			if !ok {
				return Keys{}, fmt.Errorf(i18n.Key("%s, line %d: a section must be written [name]"), path, line)
			}
			section = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), "profile "))
			found = found || section == profile
			continue
		}
		key, value, ok := strings.Cut(text, "=")
		if !ok {
			return Keys{}, fmt.Errorf(i18n.Key("%s, line %d: a line must be a [section] or key = value"), path, line)
		}
		if section != profile {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "aws_access_key_id":
			k.AccessKeyID = value
		case "aws_secret_access_key":
			k.SecretAccessKey = value
		case "aws_session_token":
			k.SessionToken = value
		}
	}
	if err := sc.Err(); err != nil {
		return Keys{}, fmt.Errorf(i18n.Key("%s, line %d: %w"), path, line+1, err)
	}
	switch {
	case !found:
		return Keys{}, fmt.Errorf(i18n.Key("%w: %s has no [%s] profile"), ErrNoCredentials, path, profile)
	case k.AccessKeyID == "" || k.SecretAccessKey == "":
		return Keys{}, fmt.Errorf(i18n.Key("%s, profile [%s]: set both aws_access_key_id and aws_secret_access_key"), path, profile)
	}
	return k, nil
}

// DefaultCredentials are a server's: the environment, else the shared
// credentials file. Its error when neither has keys says how to give them.
func DefaultCredentials() Credentials {
	env, file := EnvCredentials(), FileCredentials("", "")
	return func(ctx context.Context) (Keys, error) {
		k, err := env(ctx)
		if !errors.Is(err, ErrNoCredentials) {
			return k, err
		}
		k, err = file(ctx)
		if errors.Is(err, ErrNoCredentials) {
			p, _ := credentialsPath("")
			return Keys{}, fmt.Errorf(i18n.Key("%w: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or write them as aws_access_key_id and aws_secret_access_key under [%s] in %s"),
				ErrNoCredentials, profileName(), p)
		}
		return k, err
	}
}

// SharedFile is the shared credentials file and the profile in it that
// FileCredentials("", "") reads, for a message that says where to write
// keys; the path is "~/.aws/credentials" when there is no home directory.
func SharedFile() (path, profile string) {
	p, err := credentialsPath("")
	if err != nil {
		p = filepath.Join("~", ".aws", "credentials")
	}
	return p, profileName()
}

// profileName is the profile FileCredentials reads when given none.
func profileName() string {
	if p := os.Getenv("AWS_PROFILE"); p != "" {
		return p
	}
	return "default"
}

// renewBefore is how long before keys expire the store asks for new ones.
const renewBefore = time.Minute

// renewTimeout bounds one call of a Credentials made between requests.
const renewTimeout = 30 * time.Second

// provider adapts a Credentials to minio-go, which caches what it returns
// until IsExpired.
type provider struct {
	creds Credentials

	mu      sync.Mutex
	first   *Keys // the keys Open got, handed out on the first Retrieve
	expires time.Time
}

// RetrieveWithCredContext calls the Credentials (the first time, returns
// the keys Open already got).
func (p *provider) RetrieveWithCredContext(*credentials.CredContext) (credentials.Value, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var k Keys
	if p.first != nil {
		k, p.first = *p.first, nil
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), renewTimeout)
		defer cancel()
		var err error
		if k, err = p.creds(ctx); err != nil {
			return credentials.Value{}, err
		}
	}
	p.expires = k.Expires
	return credentials.Value{
		AccessKeyID:     k.AccessKeyID,
		SecretAccessKey: k.SecretAccessKey,
		SessionToken:    k.SessionToken,
		Expiration:      k.Expires,
		SignerType:      credentials.SignatureV4,
	}, nil
}

// Retrieve is RetrieveWithCredContext, for minio-go's older callers.
func (p *provider) Retrieve() (credentials.Value, error) { return p.RetrieveWithCredContext(nil) }

// IsExpired reports whether the keys expire within renewBefore.
func (p *provider) IsExpired() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.expires.IsZero() && time.Until(p.expires) < renewBefore
}
