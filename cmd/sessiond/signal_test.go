package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for the sessiond binary: with
// SESSIOND_TEST_RUN_MAIN=1 it runs main with its arguments.
func TestMain(m *testing.M) {
	if os.Getenv("SESSIOND_TEST_RUN_MAIN") == "1" {
		os.Args = append(os.Args[:1], strings.Fields(os.Getenv("SESSIOND_TEST_ARGS"))...)
		main()
		return
	}
	os.Exit(m.Run())
}

// TestSIGTERMFinishesInFlight runs sessiond as its own process, sends it
// SIGTERM while a proxied request is in flight, and sees the request
// complete and the process exit 0.
func TestSIGTERMFinishesInFlight(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	})}
	upLn := listenLoopback(t)
	go up.Serve(upLn)
	defer up.Close()

	addr := freePort(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SESSIOND_TEST_RUN_MAIN=1",
		"SESSIOND_TEST_ARGS=--data-dir "+t.TempDir()+" --store memory:// --listen "+addr+" --upstream http://"+upLn.Addr().String()+" --drain-timeout 100ms")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	var pw string
	for sc.Scan() {
		if m := firstPasswordRE.FindStringSubmatch(sc.Text()); m != nil {
			pw = m[1]
		}
		if strings.HasPrefix(sc.Text(), "Log in at") {
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	base := "http://" + addr
	cookie := loginHTTP(t, base, "admin", pw)

	result := getAsync(base+"/slow", cookie)
	<-started
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	close(release)
	if got := <-result; got != "finished" {
		t.Errorf("in-flight request got %q", got)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("sessiond exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("sessiond did not exit after SIGTERM")
	}
}
