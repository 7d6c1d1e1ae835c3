package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// startApp starts the protected application behind nginx's auth_request:
// it answers every request with the user nginx says sessiond vouched for,
// in X-Auth-User (which the virtual users check) and in the body.
func startApp() (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			user := r.Header.Get("X-Auth-User")
			w.Header().Set("X-Auth-User", user)
			w.Header().Set("Cache-Control", "private, no-store")
			fmt.Fprintf(w, "app: user=%q path=%s\n", user, r.URL.Path)
		}),
	}
	go func() { _ = srv.Serve(ln) }()
	return srv, ln.Addr().String(), nil
}

// cheapArgon are argon2id parameters that cost about a millisecond: the
// users file keeps each hash's parameters, and sessiond checks a password
// with the ones its hash names. The fleet logs users in hundreds of times a
// second to exercise the store; the load test measures real logins.
const (
	argonMemory = 256 // KiB
	argonTime   = 1
	argonLanes  = 1
)

// writeUsers writes a sessiond users file (name:argon2id hash, in the PHC
// format sessiond reads) with cheap hashes.
func writeUsers(path string, names, passwords []string) error {
	var b strings.Builder
	b.WriteString("# sessiond users for the fleet test: cheap argon2id hashes\n")
	for i, name := range names {
		salt := make([]byte, 16)
		_, _ = rand.Read(salt)
		key := argon2.IDKey([]byte(passwords[i]), salt, argonTime, argonMemory, argonLanes, 32)
		fmt.Fprintf(&b, "%s:$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s\n", name, argon2.Version, argonMemory, argonTime, argonLanes,
			base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}
