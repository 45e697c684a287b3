package blob

import (
	"bytes"
	"context"
	"go/build"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-dev/sluice/internal/secrets"
)

// The S3 contract runs against versitygw, an S3 gateway over a plain
// directory, started on loopback by the test. .ci/run installs it with
//
//	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
const (
	testAccessKey = "sluicetestaccess"
	testSecretKey = "sluice-test-secret-do-not-print"
	testBucket    = "sluice-blobs"
)

func TestS3Contract(t *testing.T) {
	o := startVersityGW(t)
	o.Prefix = "instance-1/"
	s, err := OpenS3(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	testStore(t, s)

	t.Run("keys carry the prefix", func(t *testing.T) {
		client := rawClient(t, o)
		mustPut(t, s, "prefixed/k", []byte("v"))
		out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String("instance-1/prefixed/k")})
		if err != nil {
			t.Fatalf("the object is not at Prefix+key: %v", err)
		}
		out.Body.Close()
		// An object outside the prefix, or not named like a key, is
		// nobody's blob.
		for _, k := range []string{"elsewhere/x", "instance-1/Not A Key"} {
			if _, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(k), Body: strings.NewReader("x")}); err != nil {
				t.Fatal(err)
			}
		}
		for _, k := range list(t, s, "") {
			if strings.Contains(k, "elsewhere") || strings.Contains(k, "Not") {
				t.Errorf("List returned a foreign object %q", k)
			}
		}
	})
}

func TestS3OpenErrors(t *testing.T) {
	o := startVersityGW(t)
	ctx := context.Background()

	missing := o
	missing.Bucket = "no-such-bucket"
	if _, err := OpenS3(ctx, missing); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("OpenS3 of a missing bucket = %v, want an error saying it does not exist", err)
	}

	wrong := o
	wrong.SecretAccessKey = secrets.NewValue("wrong-secret-must-not-be-printed")
	_, err := OpenS3(ctx, wrong)
	if err == nil {
		t.Fatal("OpenS3 with a wrong secret succeeded")
	}
	if strings.Contains(err.Error(), "wrong-secret-must-not-be-printed") {
		t.Errorf("the error shows the secret: %v", err)
	}
	if !strings.Contains(err.Error(), "access denied") {
		t.Errorf("OpenS3 with a wrong secret = %v, want access denied", err)
	}

	for _, bad := range []S3Options{
		{Bucket: "b", Endpoint: "not a url"},
		{Bucket: "b", Endpoint: "http://user:" + testSecretKey + "@127.0.0.1:1"},
		{Bucket: "b", AccessKeyID: "only-the-id"},
		{},
	} {
		_, err := OpenS3(ctx, bad)
		if err == nil {
			t.Errorf("OpenS3(%+v) succeeded", bad)
		} else if strings.Contains(err.Error(), testSecretKey) {
			t.Errorf("the error shows the secret: %v", err)
		}
	}

	// Open with a bucket chooses S3.
	st, err := Open(ctx, Options{Dir: t.TempDir(), S3: o})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*S3); !ok {
		t.Errorf("Open with a bucket = %T, want *S3", st)
	}
}

// startVersityGW starts versitygw on a free loopback port over a temporary
// directory, creates testBucket, and stops the server when t ends. With no
// versitygw installed the test is skipped, except in CI (CI=true), which
// must run it.
func startVersityGW(t *testing.T) S3Options {
	t.Helper()
	bin := findBinary("versitygw")
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("versitygw is not installed (PATH or GOPATH/bin); CI must run the S3 contract: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
		}
		t.Skip("versitygw not installed: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	data, sidecar := t.TempDir(), t.TempDir()
	// The sidecar directory holds object metadata, so the data directory
	// needs no extended attributes (tmpfs in some CI images).
	cmd := exec.Command(bin, "--access", testAccessKey, "--secret", testSecretKey, "--port", addr, "posix", "--sidecar", sidecar, data)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("versitygw output:\n%s", out.String())
		}
	})

	// Wait until it accepts connections, or has exited.
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("versitygw exited before listening: %v\n%s", err, out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not listen on %s within 30s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a port: there is nothing to wait on
	}

	o := S3Options{
		Endpoint: "http://" + addr, Region: "us-east-1", Bucket: testBucket, PathStyle: true,
		AccessKeyID: testAccessKey, SecretAccessKey: secrets.NewValue(testSecretKey),
	}
	if _, err := rawClient(t, o).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(testBucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return o
}

func rawClient(t *testing.T, o S3Options) *s3.Client {
	t.Helper()
	c, err := newS3Client(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// findBinary looks for name on PATH, then in each GOPATH's bin, where
// `go install` puts it.
func findBinary(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, gp := range filepath.SplitList(build.Default.GOPATH) {
		p := filepath.Join(gp, "bin", name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSeekableSpools covers the temporary file a long reader that cannot
// seek goes through, which the contract's 5 MiB blob does not reach.
func TestSeekableSpools(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), (spoolMemory+1<<20)/16)
	rs, n, cleanup, err := seekable(context.Background(), io.MultiReader(bytes.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	f, ok := rs.(*os.File)
	if !ok {
		t.Fatalf("a %d-byte stream was kept as %T, want a temporary file", len(big), rs)
	}
	if n != int64(len(big)) {
		t.Errorf("size %d, want %d", n, len(big))
	}
	got, err := io.ReadAll(rs)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("spooled %d bytes (%v), want the %d given", len(got), err, len(big))
	}
	cleanup()
	if _, err := os.Stat(f.Name()); !os.IsNotExist(err) {
		t.Errorf("the temporary file %s stays after cleanup: %v", f.Name(), err)
	}
}
