// Package pushertest is an httptest server that speaks the API Gateway
// management API (@connections): it records the frames posted to each connection
// and answers 410 GoneException for connections marked gone.
package pushertest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/livesupportbot/backend/shared/pusher"
)

// Server is a fake management API.
type Server struct {
	*httptest.Server
	mu     sync.Mutex
	frames map[string][]string
	gone   map[string]bool
	closed map[string]bool
}

// New starts a server that is closed when the test ends.
func New(tb testing.TB) *Server {
	s := &Server{frames: map[string][]string{}, gone: map[string]bool{}, closed: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	_, id, ok := strings.Cut(r.URL.Path, "/@connections/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone[id] || s.closed[id] {
		w.Header().Set("x-amzn-ErrorType", "GoneException")
		w.WriteHeader(http.StatusGone)
		io.WriteString(w, `{"message":null}`)
		return
	}
	switch r.Method {
	case http.MethodPost:
		b, _ := io.ReadAll(r.Body)
		s.frames[id] = append(s.frames[id], string(b))
	case http.MethodDelete:
		s.closed[id] = true
	}
	w.WriteHeader(http.StatusOK)
}

// Gone marks a connection as gone: posts to it answer 410.
func (s *Server) Gone(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gone[id] = true
}

// Frames returns the frames posted to a connection.
func (s *Server) Frames(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.frames[id]...)
}

// Closed reports whether a connection was closed through DELETE.
func (s *Server) Closed(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed[id]
}

// Pusher returns a real management API client pointed at the server.
func (s *Server) Pusher() *pusher.Pusher {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	return pusher.New(pusher.NewClient(cfg, s.URL+"/dev"))
}
