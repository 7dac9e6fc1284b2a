/* Two threads in call-heavy code, switched often (record with a small --quantum), for the
 * index's brute-force test: writes and calls from both threads, interleaved. Small stacks: a
 * thread's exit gives back the unused part of its stack with madvise, which zeroes it. */
#include <pthread.h>
#include <stdio.h>

static volatile long sink[2];

static __attribute__((noinline)) long fib(long n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static void *worker(void *arg) {
    long k = (long)arg;
    for (int i = 0; i < 3; i++) sink[k] += fib(12 + k);
    return 0;
}

int main(void) {
    pthread_t t[2];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 65536);
    for (long k = 0; k < 2; k++) pthread_create(&t[k], &attr, worker, (void *)k);
    for (int k = 0; k < 2; k++) pthread_join(t[k], 0);
    printf("%ld %ld\n", sink[0], sink[1]);
    return 0;
}
