package stores

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/mysqlstore"
)

// mysqlDSN converts a mysql:// URL to a driver configuration.
func mysqlDSN(raw string) (*mysql.Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	if u.Host == "" {
		return nil, errors.New("want mysql://user:password@host:port/db")
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return nil, errors.New("want a database name, as in mysql://user@127.0.0.1:3306/app")
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	cred := u.User.Username()
	if pw, ok := u.User.Password(); ok {
		cred += ":" + pw
	}
	if strings.Contains(strings.ToLower(u.RawQuery), "clientfoundrows") {
		return nil, errors.New("clientFoundRows must not be set")
	}
	dsn := cred + "@tcp(" + addr + ")/" + db
	if u.RawQuery != "" {
		dsn += "?" + u.RawQuery
	}
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, errors.New("invalid parameters in the mysql:// URL")
	}
	return c, nil
}

func checkMySQL(rest string) error {
	_, err := mysqlDSN("mysql://" + rest)
	return err
}

// sqlCloser closes the store, then its database handle.
type sqlCloser struct {
	s  io.Closer
	db *sql.DB
}

func (c sqlCloser) Close() error { return errors.Join(c.s.Close(), c.db.Close()) }

// openMySQL opens MariaDB / MySQL:
// mysql://user:password@host:port/db?param=value, turned into the driver's
// DSN user:password@tcp(host:port)/db?param=value. It creates the sessions
// table if it is missing.
func openMySQL(u URL, log *slog.Logger) (sesame.Store, io.Closer, error) {
	cfg, err := mysqlDSN("mysql://" + u.Rest)
	if err != nil {
		return nil, nil, err
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, nil, err
	}
	db := sql.OpenDB(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := mysqlstore.Migrate(ctx, db, ""); err != nil {
		db.Close()
		return nil, nil, err
	}
	s, err := mysqlstore.New(mysqlstore.Config{DB: db, Server: cfg.Addr, SweepErrors: func(err error) {
		log.Warn("mysql store sweep failed", "err", err)
	}})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return s, sqlCloser{s, db}, nil
}
