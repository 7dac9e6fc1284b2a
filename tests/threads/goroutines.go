// Goroutines over several OS threads: an unbuffered channel feeding workers, a
// sync.WaitGroup, a mutex-protected map, timers (time.Sleep, which Go's runtime waits for in
// epoll), a forced garbage collection. Its output is deterministic natively.
package main

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"
)

func square(in <-chan int, out chan<- int, wg *sync.WaitGroup) {
	defer wg.Done()
	sum := 0
	for v := range in {
		garbage := make([]byte, 512+v%256)
		garbage[0] = byte(v)
		sum += v*v + int(garbage[0]) - int(byte(v))
	}
	out <- sum
}

func main() {
	in := make(chan int)
	out := make(chan int, 4)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go square(in, out, &wg)
	}
	for i := 0; i < 3000; i++ {
		in <- i
	}
	close(in)
	wg.Wait()
	close(out)
	total := 0
	for s := range out {
		total += s
	}
	runtime.GC()

	var mu sync.Mutex
	counts := map[string]int{}
	var done sync.WaitGroup
	for i := 0; i < 3; i++ {
		done.Add(1)
		go func(i int) {
			defer done.Done()
			time.Sleep(time.Duration(i+1) * time.Millisecond)
			for j := 0; j < 50; j++ {
				mu.Lock()
				counts[fmt.Sprintf("k%d", (i*50+j)%7)]++
				mu.Unlock()
			}
		}(i)
	}
	done.Wait()
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Printf("goroutines: sum of squares %d\n", total)
	for _, k := range keys {
		fmt.Printf("goroutines: %s=%d\n", k, counts[k])
	}
}
