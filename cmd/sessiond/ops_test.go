package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
)

// selfSigned writes a certificate and key for 127.0.0.1 and localhost into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sessiond test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestHTTPSAndOpsListener: the main listener serves HTTPS and no
// operations endpoints at the root; --ops-listen serves them.
func TestHTTPSAndOpsListener(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	opsAddr := freePort(t)
	base, out, _ := startServe(t, "--data-dir", filepath.Join(dir, "data"), "--store", "memory://",
		"--tls-cert", certFile, "--tls-key", keyFile, "--ops-listen", opsAddr)
	if !strings.HasPrefix(base, "https://127.0.0.1:") || !strings.Contains(out.String(), "Log in at https://") {
		t.Fatalf("base %q, printed:\n%s", base, out.String())
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(c *http.Client, url string) (int, string) {
		t.Helper()
		res, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode, string(b)
	}
	if code, _ := get(c, base+pages.PathHealth); code != 200 {
		t.Errorf("https %s: %d", pages.PathHealth, code)
	}
	for _, p := range []string{"/metrics", "/healthz", "/readyz", pages.Prefix + "metrics"} {
		if code, _ := get(c, base+p); code != 404 {
			t.Errorf("%s on the main listener: %d, want 404", p, code)
		}
	}
	ops := "http://" + opsAddr
	if code, b := get(http.DefaultClient, ops+"/metrics"); code != 200 || !strings.Contains(b, "sessiond_logins_total") {
		t.Errorf("ops /metrics: %d %.200s", code, b)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, b := get(http.DefaultClient, ops+p); code != 200 || b != "ok\n" {
			t.Errorf("ops %s: %d %q", p, code, b)
		}
	}
}

// TestOpsPathsBelongToTheUpstream: in proxy mode /healthz, /readyz and
// /metrics are the application's paths; sessiond's own health checks are
// under /_sessiond/.
func TestOpsPathsBelongToTheUpstream(t *testing.T) {
	paths := make(chan string, 10)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths <- r.URL.Path
		io.WriteString(w, "app")
	}))
	defer up.Close()
	s, h := newTestServer(t, func(o *options) { o.Upstream = up.URL })
	c := newClient(t, h)
	// Anonymous: sent to log in like any other application path.
	for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
		if res := c.get(p); res.StatusCode != 303 || !strings.HasPrefix(res.Header.Get("Location"), pages.PathLogin) {
			t.Errorf("anonymous %s: %d %q, want the login redirect", p, res.StatusCode, res.Header.Get("Location"))
		}
	}
	c.login("alice", "correct horse")
	for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
		if res := c.get(p); res.StatusCode != 200 || body(t, res) != "app" || <-paths != p {
			t.Errorf("logged-in %s did not reach the upstream: %d", p, res.StatusCode)
		}
	}
	for _, p := range []string{pages.PathHealth, pages.PathReady} {
		if res := c.get(p); res.StatusCode != 200 || body(t, res) != "ok\n" {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
	if len(paths) != 0 {
		t.Errorf("sessiond's own health checks reached the upstream: %s", <-paths)
	}
	// The operations handler has all three.
	ops := newClient(t, s.opsHandler())
	for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
		if res := ops.get(p); res.StatusCode != 200 {
			t.Errorf("ops %s: %d", p, res.StatusCode)
		}
	}
}

func TestJSONLogs(t *testing.T) {
	var buf strings.Builder
	log := newLogger(&options{LogJSON: true, LogLevel: "info"}, &buf)
	log.Info("hello", "user", "alice")
	var m map[string]any
	if err := json.Unmarshal([]byte(buf.String()), &m); err != nil || m["msg"] != "hello" || m["user"] != "alice" {
		t.Errorf("%q: %v", buf.String(), err)
	}
}

func TestServeFailsCleanly(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"bad flag", []string{"--no-such-flag"}, 2},
		{"listen taken", []string{"--store", "memory://", "--listen", "256.0.0.1:1"}, 1},
		{"store unreachable", []string{"--store", "file:///proc/forbidden/x"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--data-dir", t.TempDir()}, tt.args...)
			var errOut strings.Builder
			if code := run(t.Context(), args, nil, io.Discard, &errOut, func(string) string { return "" }); code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, errOut.String())
			}
		})
	}
}

// TestFailedStartKeepsFirstRun: a first run that cannot start creates no
// user, so the next run still prints the first password.
func TestFailedStartKeepsFirstRun(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--data-dir", dir, "--store", "memory://", "--listen", "256.0.0.1:1"}
	if code := run(t.Context(), args, nil, io.Discard, io.Discard, func(string) string { return "" }); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "users")); !os.IsNotExist(err) {
		t.Errorf("users file made by a failed start: %v", err)
	}
}

// TestFailedServeReleasesListeners makes serve fail after it has opened
// its listeners, the operations one included: once it has returned, both
// addresses are free again and nothing answers on them.
func TestFailedServeReleasesListeners(t *testing.T) {
	tests := []struct {
		name string
		args func(dir string) []string
	}{
		{"the first user cannot be created", func(dir string) []string {
			return []string{"--users-file", filepath.Join(dir, "no-such-dir", "users")}
		}},
		{"the TLS certificate cannot be read", func(dir string) []string {
			return []string{"--tls-cert", filepath.Join(dir, "missing.pem"), "--tls-key", filepath.Join(dir, "missing.key")}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			addr, opsAddr := freePort(t), freePort(t)
			args := append([]string{"--data-dir", dir, "--store", "memory://", "--listen", addr, "--ops-listen", opsAddr}, tt.args(dir)...)
			var errOut strings.Builder
			if code := run(t.Context(), args, nil, io.Discard, &errOut, func(string) string { return "" }); code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, errOut.String())
			}
			for _, a := range []string{addr, opsAddr} {
				ln, err := net.Listen("tcp", a)
				if err != nil {
					t.Errorf("%s still taken after serve failed: %v", a, err)
					continue
				}
				ln.Close()
			}
		})
	}
}
