package main

import (
	"flag"
	"io"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/cmd/sessiond/internal/users"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(*options) bool
		wantErr string
	}{
		{"defaults", nil, nil, func(o *options) bool {
			return o.Listen == "127.0.0.1:8080" && o.DataDir == "/home/u/.local/share/sessiond" && o.UserHeader == "X-Auth-User" &&
				o.IdleTimeout == 30*time.Minute && !o.Ticket && o.usersPath() == "/home/u/.local/share/sessiond/users"
		}, ""},
		{"XDG_DATA_HOME", nil, map[string]string{"XDG_DATA_HOME": "/xdg"}, func(o *options) bool { return o.DataDir == "/xdg/sessiond" }, ""},
		{"env sets a flag", nil, map[string]string{"SESSIOND_LISTEN": ":9000", "SESSIOND_LOG_JSON": "true"}, func(o *options) bool {
			return o.Listen == ":9000" && o.LogJSON
		}, ""},
		{"flag beats env", []string{"--listen", ":9001"}, map[string]string{"SESSIOND_LISTEN": ":9000"}, func(o *options) bool { return o.Listen == ":9001" }, ""},
		{"ticket secret implies ticket", []string{"--ticket-secret", "0123456789abcdef"}, nil, func(o *options) bool { return o.Ticket }, ""},
		{"trusted proxies", []string{"--trusted-proxies", "10.0.0.0/8, 127.0.0.1"}, nil, func(o *options) bool {
			return len(o.TrustedProxies) == 2 && o.TrustedProxies[1] == netip.MustParsePrefix("127.0.0.1/32")
		}, ""},
		{"store memory", []string{"--store", "memory://"}, nil, func(o *options) bool { return o.Store == "memory://" }, ""},
		{"metrics-listen is the old name of ops-listen", []string{"--metrics-listen", "127.0.0.1:9100"}, nil, func(o *options) bool { return o.OpsListen == "127.0.0.1:9100" }, ""},
		{"ops listener from the environment", nil, map[string]string{"SESSIOND_OPS_LISTEN": ":9100"}, func(o *options) bool { return o.OpsListen == ":9100" }, ""},
		{"bad env value", nil, map[string]string{"SESSIOND_IDLE_TIMEOUT": "soon"}, nil, "SESSIOND_IDLE_TIMEOUT"},
		{"tls needs both", []string{"--tls-cert", "c.pem"}, nil, nil, "--tls-key"},
		{"lifetime below idle", []string{"--lifetime", "1m", "--idle-timeout", "5m"}, nil, nil, "--lifetime"},
		{"bad upstream", []string{"--upstream", "ftp://x"}, nil, nil, "--upstream"},
		{"bad header", []string{"--user-header", "X Auth"}, nil, nil, "--user-header"},
		{"bad store", []string{"--store", "nosuch://x"}, nil, nil, "unknown scheme"},
		{"bad digest", []string{"--ticket-digest", "crc32"}, nil, nil, "--ticket-digest"},
		{"ticket outlives session", []string{"--ticket-timeout", "1h"}, nil, nil, "--ticket-timeout"},
		{"bad level", []string{"--log-level", "loud"}, nil, nil, "--log-level"},
		{"stray argument", []string{"extra"}, nil, nil, "unexpected argument"},
		{"bad proxies", []string{"--trusted-proxies", "nonsense"}, nil, nil, "CIDR"},
		{"strip headers", []string{"--strip-headers", "X-Tenant, X-Role,"}, nil, func(o *options) bool {
			return slices.Equal(o.StripHeaders, []string{"X-Tenant", "X-Role"})
		}, ""},
		{"body timeout defaults", nil, nil, func(o *options) bool { return o.BodyTimeout == 10*time.Second && o.UpstreamBodyRate == 500 }, ""},
		{"body timeouts", []string{"--body-timeout", "3s", "--upstream-body-rate", "0"}, nil, func(o *options) bool {
			return o.BodyTimeout == 3*time.Second && o.UpstreamBodyRate == 0
		}, ""},
		{"no body timeout", []string{"--body-timeout", "0"}, nil, nil, "--body-timeout"},
		{"negative body rate", []string{"--upstream-body-rate", "-1"}, nil, nil, "--upstream-body-rate"},
		{"bad strip header", []string{"--strip-headers", "X-Ok,Not A Header"}, nil, nil, "not a header name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"HOME": "/home/u"}
			for k, v := range tt.env {
				env[k] = v
			}
			o, err := parseOptions(tt.args, func(k string) string { return env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(o) {
				t.Errorf("options %+v", o)
			}
		})
	}
}

func TestHelpListsEveryFlagWithItsVariable(t *testing.T) {
	var b strings.Builder
	if code := run(t.Context(), []string{"--help"}, nil, &b, io.Discard, func(string) string { return "" }); code != 0 {
		t.Fatalf("exit %d", code)
	}
	fs := newFlagSet(&options{}, func(string) string { return "" })
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		if !strings.Contains(b.String(), "--"+f.Name+"  ["+envName(f.Name)+"]") {
			t.Errorf("help lacks --%s [%s]", f.Name, envName(f.Name))
		}
	})
	if n < 20 {
		t.Errorf("only %d flags", n)
	}
}

func TestUserCommand(t *testing.T) {
	dir := t.TempDir()
	env := func(k string) string {
		if k == "SESSIOND_DATA_DIR" {
			return dir
		}
		return ""
	}
	var out strings.Builder
	if code := run(t.Context(), []string{"user", "add", "erin"}, strings.NewReader("pass-word-1\n"), &out, io.Discard, env); code != 0 {
		t.Fatalf("user add: exit %d", code)
	}
	if code := run(t.Context(), []string{"user", "add", "frank", "--generate"}, nil, &out, io.Discard, env); code != 0 || !strings.Contains(out.String(), `user "frank", password `) {
		t.Fatalf("user add --generate: exit %d, %q", code, out.String())
	}
	out.Reset()
	run(t.Context(), []string{"user", "list"}, nil, &out, io.Discard, env)
	if out.String() != "erin\nfrank\n" {
		t.Errorf("list: %q", out.String())
	}
	if code := run(t.Context(), []string{"user", "remove", "erin"}, nil, io.Discard, io.Discard, env); code != 0 {
		t.Errorf("remove: exit %d", code)
	}
	if code := run(t.Context(), []string{"user", "frobnicate"}, nil, io.Discard, io.Discard, env); code != 2 {
		t.Errorf("bad subcommand: exit %d", code)
	}
	users, _ := users.ReadFile(filepath.Join(dir, "users"))
	if _, ok := users["frank"]; !ok || len(users) != 1 {
		t.Errorf("users %v", users)
	}
}
