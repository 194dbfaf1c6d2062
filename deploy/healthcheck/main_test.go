package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			w.WriteHeader(http.StatusOK)
		case "/slow":
			time.Sleep(200 * time.Millisecond)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	if err := check(ctx, srv.URL+"/readyz", time.Second); err != nil {
		t.Errorf("200: %v", err)
	}
	if err := check(ctx, srv.URL+"/down", time.Second); !errors.Is(err, errStatus) {
		t.Errorf("503: got %v, want errStatus", err)
	}
	if err := check(ctx, srv.URL+"/slow", 20*time.Millisecond); err == nil {
		t.Error("timeout: got nil error")
	}
	if err := check(ctx, "http://127.0.0.1:1/readyz", time.Second); err == nil {
		t.Error("refused: got nil error")
	}
}
