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
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

func TestHTTPSAndSeparateMetricsListener(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	metricsAddr := freePort(t)
	base, out, _ := startServe(t, "--data-dir", filepath.Join(dir, "data"), "--store", "memory://",
		"--tls-cert", certFile, "--tls-key", keyFile, "--metrics-listen", metricsAddr)
	if !strings.HasPrefix(base, "https://127.0.0.1:") || !strings.Contains(out.String(), "Log in at https://") {
		t.Fatalf("base %q, printed:\n%s", base, out.String())
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	res, err := c.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.TLS == nil {
		t.Errorf("https healthz: %d tls=%v", res.StatusCode, res.TLS != nil)
	}
	// /metrics moved to its own listener.
	if res, err = c.Get(base + "/metrics"); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("/metrics on the main listener: %d", res.StatusCode)
	}
	res, err = http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), "sessiond_logins_total") {
		t.Errorf("metrics listener: %d %.200s", res.StatusCode, b)
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
