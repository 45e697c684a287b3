package httpx

import (
	"io"
	"net/http"
)

// responseRecorder remembers the status and size of a response for the
// access log and metrics. It passes everything through, and Unwrap lets
// http.ResponseController reach optional abilities (Hijack, deadlines) of the
// writer underneath, which a plain embedding would hide.
type responseRecorder struct {
	http.ResponseWriter
	code        int
	bytes       int64
	wroteHeader bool
}

// recordResponse wraps w, or returns w itself when it already is a recorder,
// so stacking Logger, Recover and metrics costs one wrapper, not three.
func recordResponse(w http.ResponseWriter) *responseRecorder {
	if rec, ok := w.(*responseRecorder); ok {
		return rec
	}
	return &responseRecorder{ResponseWriter: w}
}

func (rw *responseRecorder) WriteHeader(code int) {
	// 1xx answers other than 101 are interim; the real status comes later.
	if !rw.wroteHeader && (code < 100 || code > 199 || code == http.StatusSwitchingProtocols) {
		rw.code = code
		rw.wroteHeader = true
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *responseRecorder) Write(p []byte) (int, error) {
	rw.implicitOK()
	n, err := rw.ResponseWriter.Write(p)
	rw.bytes += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy on the fast path (sendfile) that the underlying
// writer offers, while still counting bytes.
func (rw *responseRecorder) ReadFrom(src io.Reader) (int64, error) {
	rw.implicitOK()
	n, err := io.Copy(rw.ResponseWriter, src)
	rw.bytes += n
	return n, err
}

// Flush is here so streaming handlers that type-assert http.Flusher still
// work through the wrapper.
func (rw *responseRecorder) Flush() {
	rw.implicitOK()
	_ = http.NewResponseController(rw.ResponseWriter).Flush()
}

func (rw *responseRecorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// implicitOK records what net/http does on a first Write without WriteHeader.
func (rw *responseRecorder) implicitOK() {
	if !rw.wroteHeader {
		rw.code = http.StatusOK
		rw.wroteHeader = true
	}
}

// status is the status the client got; a handler that wrote nothing at all
// still produced a 200.
func (rw *responseRecorder) status() int {
	if !rw.wroteHeader {
		return http.StatusOK
	}
	return rw.code
}

var (
	_ http.Flusher  = (*responseRecorder)(nil)
	_ io.ReaderFrom = (*responseRecorder)(nil)
)
