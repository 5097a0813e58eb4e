// Command faultapp misbehaves on purpose for clocal's reliability tests.
//
//	MODE=chatty  writes CHATTY_MB megabytes of 1 KiB lines to stdout, then "CHATTY-DONE <bytes>", then idles
//	MODE=zombie  every 200 ms (ZOMBIE_ROUNDS times) runs a child that starts a grandchild and
//	             exits without waiting for it: the orphaned grandchild is re-parented to PID 1,
//	             which must reap it (init: true) or it stays a zombie
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"
)

func main() {
	spawn := flag.Bool("spawn", false, "start a grandchild and exit without waiting for it")
	sleep := flag.Duration("sleep", 0, "sleep, then exit")
	flag.Parse()
	switch {
	case *sleep > 0:
		time.Sleep(*sleep)
		return
	case *spawn:
		self, _ := os.Executable()
		if err := exec.Command(self, "-sleep", "300ms").Start(); err != nil {
			fmt.Fprintln(os.Stderr, "spawn:", err)
			os.Exit(1)
		}
		os.Exit(0) // abandon the grandchild
	}
	switch os.Getenv("MODE") {
	case "chatty":
		chatty()
	case "zombie":
		zombie()
	}
	fmt.Println("idle")
	for {
		time.Sleep(time.Hour) // not select{}: the runtime would abort with "all goroutines are asleep"
	}
}

func chatty() {
	mb, _ := strconv.Atoi(os.Getenv("CHATTY_MB"))
	if mb <= 0 {
		mb = 100
	}
	line := make([]byte, 1024)
	for i := range line {
		line[i] = 'a' + byte(i%26)
	}
	line[len(line)-1] = '\n'
	w := bufio.NewWriterSize(os.Stdout, 64<<10)
	total := 0
	for total < mb<<20 {
		n, err := w.Write(line)
		if err != nil {
			os.Exit(1)
		}
		total += n
	}
	fmt.Fprintf(w, "CHATTY-DONE %d\n", total)
	_ = w.Flush()
}

func zombie() {
	rounds, _ := strconv.Atoi(os.Getenv("ZOMBIE_ROUNDS"))
	if rounds <= 0 {
		rounds = 10
	}
	self, _ := os.Executable()
	for i := 0; i < rounds; i++ {
		// The child is waited for; its own child (the grandchild) is abandoned.
		if err := exec.Command(self, "-spawn").Run(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Println("ZOMBIE-SPAWNED", rounds)
}
