package mysqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"net/http"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/mysqlstore"
)

// Example serves sessions kept in MariaDB or MySQL: create the table once
// (or run mysqlstore.Schema's SQL with your migration tool), then sweep
// expired sessions at a sixth of the Manager's idle timeout.
func Example() {
	ctx := context.Background()
	db, err := sql.Open("mysql", "app@tcp(127.0.0.1:3306)/app")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := mysqlstore.Migrate(ctx, db, mysqlstore.DefaultTable); err != nil {
		log.Fatal(err)
	}

	const idle = 30 * time.Minute
	store, err := mysqlstore.New(mysqlstore.Config{DB: db, Server: "127.0.0.1:3306", SweepInterval: idle / 6})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	manager, err := sesame.New(sesame.Config{Store: store, IdleTimeout: idle})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello\n")) })
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", manager.Handler(mux)))
}

// ExampleSchema prints the SQL that Migrate runs, for a migration tool.
func ExampleSchema() {
	stmt, err := mysqlstore.Schema("sessions")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(stmt)
	// Output:
	// CREATE TABLE IF NOT EXISTS `sessions` (
	//     `key`      VARBINARY(128)     NOT NULL,
	//     value      MEDIUMBLOB         NOT NULL,
	//     version    BIGINT UNSIGNED    NOT NULL,
	//     expires_at DATETIME(6)        NOT NULL,
	//     user_name  BLOB               NULL,
	//     PRIMARY KEY (`key`),
	//     INDEX user_name_idx (user_name(255)),
	//     INDEX expires_at_idx (expires_at)
	// ) ENGINE=InnoDB
}
