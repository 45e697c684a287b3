package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/sluice-dev/sluice/internal/secrets"
)

var _ Store = (*S3)(nil)

// S3Options locate a bucket on AWS S3 or any S3-compatible store.
type S3Options struct {
	// Endpoint is the store's base URL (https://minio.example.com); empty
	// for AWS itself.
	Endpoint string
	// Region signs requests; default: the SDK's (AWS_REGION, shared
	// config), else us-east-1, which most S3-compatible stores accept.
	Region string
	// Bucket holds the blobs; it must exist.
	Bucket string
	// Prefix is put before every key, so one bucket can serve several
	// instances ("sluice/"); List strips it again.
	Prefix string
	// PathStyle addresses the bucket as ENDPOINT/BUCKET rather than
	// BUCKET.ENDPOINT, as most self-hosted stores need.
	PathStyle bool
	// AccessKeyID and SecretAccessKey are static credentials; with no
	// AccessKeyID the SDK's default chain (environment, shared files,
	// instance role) supplies them.
	AccessKeyID     string
	SecretAccessKey secrets.Value
}

// S3 keeps blobs as objects named Prefix+key in one bucket.
type S3 struct {
	client *s3.Client
	bucket string
	prefix string
}

// spoolMemory is how much of a reader that cannot seek Put holds in
// memory; beyond it the rest goes to a temporary file. Signing over plain
// HTTP needs the payload's hash before sending, so a body must be
// readable twice.
const spoolMemory = 8 << 20

// OpenS3 builds a client for the bucket and checks that the bucket is
// reachable with the credentials (HeadBucket), so a misconfiguration
// stops start-up rather than the first console log.
func OpenS3(ctx context.Context, o S3Options) (*S3, error) {
	if o.Bucket == "" {
		return nil, errors.New("blob s3: no bucket: give --s3-bucket")
	}
	client, err := newS3Client(ctx, o)
	if err != nil {
		return nil, err
	}
	s := &S3{client: client, bucket: o.Bucket, prefix: o.Prefix}
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(o.Bucket)}); err != nil {
		hint := "check --s3-endpoint, --s3-region and --s3-path-style"
		switch httpStatus(err) {
		case 404:
			hint = "the bucket does not exist: create it, or check --s3-bucket and --s3-path-style"
		case 401, 403:
			hint = "access denied: check the credentials and that they may list and write the bucket"
		}
		return nil, fmt.Errorf("blob s3: bucket %q: %s: %w", o.Bucket, hint, err)
	}
	return s, nil
}

// newS3Client checks the endpoint and credentials of o and builds the
// SDK client for them.
func newS3Client(ctx context.Context, o S3Options) (*s3.Client, error) {
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("blob s3: endpoint %q: give a URL such as https://s3.example.com", o.Endpoint)
		}
		if u.User != nil {
			return nil, errors.New("blob s3: endpoint has a user name or password in it: give credentials in SLUICE_S3_ACCESS_KEY_ID and SLUICE_S3_SECRET_ACCESS_KEY instead")
		}
	}
	if (o.AccessKeyID == "") != o.SecretAccessKey.IsZero() {
		return nil, errors.New("blob s3: SLUICE_S3_ACCESS_KEY_ID and SLUICE_S3_SECRET_ACCESS_KEY must be given together (or neither, for the SDK's default credentials)")
	}
	var load []func(*awsconfig.LoadOptions) error
	if o.Region != "" {
		load = append(load, awsconfig.WithRegion(o.Region))
	}
	if o.AccessKeyID != "" {
		load = append(load, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey.Reveal(), "")))
	}
	if o.Endpoint != "" {
		// Many S3-compatible stores reject or mishandle the checksums the
		// SDK adds by default; send and check them only where required.
		load = append(load,
			awsconfig.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
			awsconfig.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("blob s3: load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
	}), nil
}

// Put uploads r in one PutObject, which S3 makes visible atomically. A
// reader that cannot seek is spooled first (see spoolMemory).
func (s *S3) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if err := ValidKey(key); err != nil {
		return 0, err
	}
	body, size, cleanup, err := seekable(ctx, r)
	if err != nil {
		return 0, fmt.Errorf("blob s3: put %q: read blob: %w", key, err)
	}
	defer cleanup()
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.prefix + key),
		Body:          body,
		ContentLength: aws.Int64(size),
		ContentType:   aws.String("application/octet-stream"),
	})
	if err != nil {
		return 0, fmt.Errorf("blob s3: put %q in bucket %q: %w", key, s.bucket, err)
	}
	return size, nil
}

// Open starts a GetObject; ErrNotFound when there is no such object.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		if notFound(err) {
			return nil, fmt.Errorf("blob s3: open %q: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("blob s3: open %q in bucket %q: %w", key, s.bucket, err)
	}
	return out.Body, nil
}

// Delete removes the object; S3 answers a missing one with success, and
// stores that answer 404 are treated the same.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil && !notFound(err) {
		return fmt.Errorf("blob s3: delete %q in bucket %q: %w", key, s.bucket, err)
	}
	return nil
}

// List pages through ListObjectsV2 under Prefix+prefix. Objects whose
// names are not valid keys (put there by something else) are skipped.
func (s *S3) List(ctx context.Context, prefix string, fn func(key string) error) error {
	if err := validPrefix(prefix); err != nil {
		return err
	}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("blob s3: list %q in bucket %q: %w", prefix, s.bucket, err)
		}
		for _, obj := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(obj.Key), s.prefix)
			if !ok || ValidKey(key) != nil {
				continue
			}
			if err := fn(key); err != nil {
				return err
			}
		}
	}
	return nil
}

// seekable returns r as a ReadSeeker positioned at its start, with the
// number of bytes from there to the end.
func seekable(ctx context.Context, r io.Reader) (io.ReadSeeker, int64, func(), error) {
	noop := func() {}
	if rs, ok := r.(io.ReadSeeker); ok {
		start, err := rs.Seek(0, io.SeekCurrent)
		if err == nil {
			end, err := rs.Seek(0, io.SeekEnd)
			if err == nil {
				if _, err = rs.Seek(start, io.SeekStart); err == nil {
					return io.NewSectionReader(readerAt{rs}, start, end-start), end - start, noop, nil
				}
			}
		}
		// Not really seekable (a pipe behind *os.File): spool it.
	}
	r = ctxReader{ctx, r}
	var buf bytes.Buffer
	n, err := io.CopyN(&buf, r, spoolMemory+1)
	if err == io.EOF {
		return bytes.NewReader(buf.Bytes()), n, noop, nil
	}
	if err != nil {
		return nil, 0, noop, err
	}
	f, err := os.CreateTemp("", "sluice-blob-*")
	if err != nil {
		return nil, 0, noop, fmt.Errorf("spool to a temporary file: %w", err)
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	m, err := io.Copy(f, io.MultiReader(&buf, r))
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, 0, noop, fmt.Errorf("spool to %s: %w", f.Name(), err)
	}
	return f, m, cleanup, nil
}

// readerAt reads a ReadSeeker at offsets, for io.NewSectionReader; the
// SDK seeks its body to rewind it, and a section keeps that to the part
// of the caller's reader from where it stood.
type readerAt struct{ rs io.ReadSeeker }

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	if _, err := r.rs.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return io.ReadFull(r.rs, p)
}

// notFound reports whether an S3 error means the object is missing (and
// not the bucket, which is a configuration error to report).
func notFound(err error) bool {
	var nsb *types.NoSuchBucket
	if errors.As(err, &nsb) {
		return false
	}
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	return errors.As(err, &nsk) || errors.As(err, &nf) || (httpStatus(err) == 404 && !strings.Contains(err.Error(), "NoSuchBucket"))
}

// httpStatus is the HTTP status of a failed S3 call, 0 when there was no
// response.
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
