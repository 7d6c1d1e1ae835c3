package main

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
)

// sample is the process's memory, and the store's file, at one moment.
type sample struct {
	HeapAlloc uint64 `json:"heap_alloc"` // bytes of live heap objects
	HeapInuse uint64 `json:"heap_inuse"` // bytes in heap spans in use
	RSS       uint64 `json:"rss"`        // resident set size; 0 where /proc is missing
	Runtime   uint64 `json:"runtime"`    // what the runtime holds besides the heap: spans, GC metadata, stacks
	File      int64  `json:"file"`       // bytes of the store's file; 0 for memory

	// For bolt, from its Stats: bytes of free pages in the file, and
	// compactions so far.
	Free        int64 `json:"free"`
	Compactions int64 `json:"compactions"`
}

// measure collects garbage, returns freed memory to the operating system,
// and then samples the process's memory.
func measure() sample {
	// Two cycles (FreeOSMemory runs one of its own): what the first one
	// leaves for finalizers is gone after the second.
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return sample{HeapAlloc: ms.HeapAlloc, HeapInuse: ms.HeapInuse, RSS: rss(), Runtime: ms.Sys - ms.HeapSys}
}

// rss returns the process's resident set size from /proc/self/status
// (VmRSS), or 0 where it cannot be read.
func rss() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:"))
		if !ok {
			continue
		}
		kb, ok := bytes.CutSuffix(bytes.TrimSpace(line), []byte(" kB"))
		if !ok {
			return 0
		}
		n, err := strconv.ParseUint(string(kb), 10, 64)
		if err != nil {
			return 0
		}
		return n << 10
	}
	return 0
}
