package stores

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/memcachestore"
)

func memcacheAddrs(rest string) ([]string, error) {
	var out []string
	for a := range strings.SplitSeq(strings.TrimSuffix(rest, "/"), ",") {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			return nil, errors.New("want host:port addresses, as in memcache://127.0.0.1:11211")
		}
		out = append(out, a)
	}
	return out, nil
}

func checkMemcache(rest string) error {
	_, err := memcacheAddrs(rest)
	return err
}

// openMemcache opens memcached: memcache://host:port[,host:port...].
// memcached cannot list a user's sessions, so the sessions page shows none
// and "log out everywhere" is unavailable; prefer another store when those
// matter.
func openMemcache(u URL, _ *slog.Logger) (sesame.Store, io.Closer, error) {
	addrs, err := memcacheAddrs(u.Rest)
	if err != nil {
		return nil, nil, err
	}
	s, err := memcachestore.New(memcachestore.Config{Servers: addrs})
	if err != nil {
		return nil, nil, err
	}
	return s, s, nil
}
