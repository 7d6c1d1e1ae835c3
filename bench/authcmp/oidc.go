package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/oauth2-proxy/mockoidc"
)

// provider is the OpenID Connect provider oauth2-proxy logs users in
// with: mockoidc, in this process, on 127.0.0.1 and a port of the OS's
// choosing. It signs tokens for its default user (jane.doe@example.com)
// at every authorization, as a provider whose user is already signed in
// does.
type provider struct{ m *mockoidc.MockOIDC }

// providerUser is the email the provider's default user has, which
// oauth2-proxy's check names.
const providerUser = "jane.doe@example.com"

func startProvider() (*provider, error) {
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		return nil, err
	}
	// Tokens outlive any run, so oauth2-proxy never refreshes mid-run.
	m.AccessTTL, m.RefreshTTL = 24*time.Hour, 48*time.Hour
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if err := m.Start(ln, nil); err != nil {
		ln.Close()
		return nil, fmt.Errorf("mock OIDC provider: %w", err)
	}
	return &provider{m}, nil
}

func (p *provider) issuer() string       { return p.m.Issuer() }
func (p *provider) clientID() string     { return p.m.ClientID }
func (p *provider) clientSecret() string { return p.m.ClientSecret }

func (p *provider) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.m.Server.Shutdown(ctx)
}

// loopbackDial dials 127.0.0.1 and nothing else.
func loopbackDial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host != "127.0.0.1" {
		return nil, fmt.Errorf("refusing to dial %s: the harness talks to 127.0.0.1 only", addr)
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	return d.DialContext(ctx, network, addr)
}
