package stores

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/boltstore"
)

// openBolt opens bolt://PATH, one bbolt file (created 0600), the embedded,
// persistent default. bolt:///abs/file.db and bolt://relative/file.db
// (in the data directory) both work. The file is locked while sessiond
// runs.
func openBolt(u URL, _ *slog.Logger) (sesame.Store, io.Closer, error) {
	if err := os.MkdirAll(filepath.Dir(u.Rest), 0o700); err != nil {
		return nil, nil, err
	}
	s, err := boltstore.New(boltstore.Config{Path: u.Rest})
	if err != nil {
		return nil, nil, err
	}
	return s, s, nil
}
