module github.com/sesame-go/sesame

go 1.26
