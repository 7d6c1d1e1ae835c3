package stores

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/pgstore"
)

func checkPostgres(rest string) error {
	if _, err := url.Parse("postgres://" + rest); err != nil {
		return errors.New("not a URL")
	}
	return nil
}

// pgCloser closes the store, then the pool it uses.
type pgCloser struct {
	s    *pgstore.Store
	pool *pgxpool.Pool
}

func (c pgCloser) Close() error {
	err := c.s.Close()
	c.pool.Close()
	return err
}

// openPostgres opens PostgreSQL: postgres://user:password@host:port/db?sslmode=...
// is handed to pgx as it is. It creates the sessions table if it is
// missing.
func openPostgres(u URL, log *slog.Logger) (sesame.Store, io.Closer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, u.Raw)
	if err != nil {
		return nil, nil, err
	}
	if err := pgstore.Migrate(ctx, pool, ""); err != nil {
		pool.Close()
		return nil, nil, err
	}
	s, err := pgstore.New(pgstore.Config{Pool: pool, SweepErrors: func(err error) {
		log.Warn("postgres store sweep failed", "err", err)
	}})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return s, pgCloser{s, pool}, nil
}
