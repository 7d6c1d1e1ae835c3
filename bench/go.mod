module github.com/sesame-go/sesame/bench

go 1.26.0

replace github.com/sesame-go/sesame => ..

replace github.com/sesame-go/sesame/store/redisstore => ../store/redisstore

replace github.com/sesame-go/sesame/store/boltstore => ../store/boltstore

require (
	github.com/alexedwards/scs/redisstore v0.0.0-20250417082927-ab20b3feb5e9
	github.com/alexedwards/scs/v2 v2.9.0
	github.com/gomodule/redigo v1.9.3
	github.com/gorilla/sessions v1.4.0
	github.com/sesame-go/sesame v0.0.0
	github.com/sesame-go/sesame/store/boltstore v0.0.0
	github.com/sesame-go/sesame/store/redisstore v0.0.0
	golang.org/x/crypto v0.58.0
	golang.org/x/perf v0.0.0-20260908200009-22c9c6c9d4da
)

require (
	github.com/aclements/go-moremath v0.0.0-20210112150236-f10218a38794 // indirect
	github.com/gorilla/securecookie v1.1.2 // indirect
	github.com/redis/rueidis v1.0.79 // indirect
	go.etcd.io/bbolt v1.5.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

tool golang.org/x/perf/cmd/benchstat
