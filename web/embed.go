// Package web holds the chat page: static files embedded in the binary, with no build step.
package web

import (
	"embed"
	"net/http"
)

//go:embed index.html app.js style.css favicon.svg js/*.js
var files embed.FS

// contentSecurity keeps the page to its own scripts, styles and WebSocket: even if data ever
// reached the DOM as markup, no inline script or foreign resource would run.
const contentSecurity = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the page and its modules, with index.html at "/".
func Handler() http.Handler {
	fs := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurity)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		fs.ServeHTTP(w, r)
	})
}
