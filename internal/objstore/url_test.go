package objstore

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want Config
	}{
		{"s3://bucket", Config{Bucket: "bucket"}},
		{"s3://bucket/", Config{Bucket: "bucket"}},
		{"s3://my.bucket-1/team/cache/", Config{Bucket: "my.bucket-1", Prefix: "team/cache"}},
		{"s3://b12/p?endpoint=http://127.0.0.1:8333&region=us-east-1&path_style=true",
			Config{Bucket: "b12", Prefix: "p", Endpoint: "http://127.0.0.1:8333", Region: "us-east-1", PathStyle: true}},
		{"s3://b12?endpoint=https://s3.example.com/&path_style=0", Config{Bucket: "b12", Endpoint: "https://s3.example.com"}},
		{"s3://b12?endpoint=https%3A%2F%2Fr2.example.com%3A443&region=auto", Config{Bucket: "b12", Endpoint: "https://r2.example.com:443", Region: "auto"}},
	} {
		got, err := ParseURL(tc.url)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.url, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tc.url, got, tc.want)
		}
		back, err := ParseURL(got.String())
		if err != nil || back != got {
			t.Errorf("ParseURL(%q.String() = %q) = %+v, %v; want %+v", tc.url, got.String(), back, err, got)
		}
	}
}

// TestParseURLErrors checks that each bad URL is refused with a message
// that says what to change.
func TestParseURLErrors(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want []string // all in the message
	}{
		{"http://bucket/p", []string{"must start with s3://"}},
		{"bucket/p", []string{"must start with s3://"}},
		{"s3:///prefix", []string{"has no bucket", "s3://BUCKET/PREFIX"}},
		{"s3:bucket", []string{"has no bucket"}},
		{"s3://Bucket_1/p", []string{`"Bucket_1" is not a bucket name`, "lowercase"}},
		{"s3://ab", []string{"is not a bucket name", "3 to 63"}},
		{"s3://-ab", []string{"is not a bucket name"}},
		{"s3://bucket:9000/p", []string{"is not a bucket name"}},
		{"s3://bucket/a//b", []string{"empty part"}},
		{"s3://bucket#x", []string{"fragment"}},
		{"s3://bucket?endpoint=ftp://h", []string{`endpoint "ftp://h" must start with http:// or https://`}},
		{"s3://bucket?endpoint=127.0.0.1:8333", []string{"must start with http:// or https://"}},
		{"s3://bucket?endpoint=http://", []string{"has no host"}},
		{"s3://bucket?endpoint=http://h/bucket", []string{"only a scheme and a host", "s3://BUCKET/PREFIX"}},
		{"s3://bucket?region=US_EAST", []string{`region "US_EAST" is not a region name`}},
		{"s3://bucket?region=", []string{"is not a region name", "leave region out"}},
		{"s3://bucket?path_style=yes", []string{`path_style="yes" must be true or false`}},
		{"s3://bucket?pathstyle=true", []string{`unknown query key "pathstyle"`, "endpoint, region and path_style"}},
		{"s3://bucket?region=a&region=b", []string{"region more than once"}},
		{"s3://bucket?a=%zz", []string{"query does not parse"}},
	} {
		_, err := ParseURL(tc.url)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded", tc.url)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseURL(%q) = %q, want it to say %q", tc.url, err, w)
			}
		}
	}
}

// TestParseURLHidesSecrets checks that credentials written into a store
// URL are refused without being repeated.
func TestParseURLHidesSecrets(t *testing.T) {
	for _, raw := range []string{
		"s3://AKIDEXAMPLE:wJalrXUtnFEMI@bucket/p",
		"s3://AKIDEXAMPLE:wJalrXUtnFEMI@bucket/p?endpoint=ftp://x",
		"s3://bucket?endpoint=http://AKIDEXAMPLE:wJalrXUtnFEMI@h/path",
		"s3://AKIDEXAMPLE:wJalrXUtnFEMI@bucket/%zz",
		"s3://bucket?endpoint=ftp://AKIDEXAMPLE:wJalrXUtnFEMI@h",
		"s3://bucket?endpoint=http://AKIDEXAMPLE:wJalrXUtnFEMI@h",
		"s3://bucket?endpoint=http://AKIDEXAMPLE:wJalrXUtnFEMI@[::1&region=x",
		"s3://bucket?endpoint=http://AKIDEXAMPLE:wJalrXUtnFEMI@h&x=%zz",
		"s3://bucket?endpoint=http://AKIDEXAMPLE:wJalrXUtnFEMI@h&bad=1",
	} {
		_, err := ParseURL(raw)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded", raw)
			continue
		}
		if strings.Contains(err.Error(), "wJalrXUtnFEMI") {
			t.Errorf("ParseURL(%q) error shows the secret: %v", raw, err)
		}
	}
	_, err := ParseURL("s3://AKIDEXAMPLE:wJalrXUtnFEMI@bucket/p")
	if err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("credentials in the URL: %v, want a message naming AWS_ACCESS_KEY_ID", err)
	}
}

func TestConfigString(t *testing.T) {
	c := Config{Bucket: "b12", Prefix: "a/b", Endpoint: "http://127.0.0.1:1", Region: "r", PathStyle: true}
	if got, want := c.String(), "s3://b12/a/b?endpoint=http%3A%2F%2F127.0.0.1%3A1&path_style=true&region=r"; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	if got := (Config{Bucket: "b12"}).String(); got != "s3://b12" {
		t.Errorf("String() = %s, want s3://b12", got)
	}
}
