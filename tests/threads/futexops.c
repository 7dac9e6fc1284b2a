/* The futex operations one by one through the raw syscall, against the kernel's answers. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long futex(uint32_t *addr, int op, uint32_t val, uintptr_t val2, uint32_t *addr2,
                  uint32_t val3) {
    long r = syscall(SYS_futex, addr, op, val, val2, addr2, val3);
    return r < 0 ? -errno : r;
}

/* How many threads wait on `f`: requeueing them onto `f` itself moves nobody anywhere. */
static long waiting(uint32_t *f) {
    return futex(f, FUTEX_CMP_REQUEUE_PRIVATE, 0, INT_MAX, f, *f);
}

static uint32_t f1, f2, f3;
static long results[4];

static void *wait_f1(void *arg) {
    results[(long)arg] = futex(&f1, FUTEX_WAIT_PRIVATE, 0, 0, NULL, 0);
    return NULL;
}

static void *wait_bits(void *arg) {
    results[(long)arg] = futex(&f1, FUTEX_WAIT_BITSET_PRIVATE, 0, 0, NULL, 2);
    return NULL;
}

static void until_waiting(uint32_t *f, long n) {
    while (waiting(f) < n) sched_yield();
}

int main(void) {
    struct timespec rel = {0, 5 * 1000 * 1000}, abs;
    printf("wait on a changed value: %ld\n", futex(&f1, FUTEX_WAIT_PRIVATE, 1, 0, NULL, 0));
    printf("wait, relative timeout: %ld\n",
           futex(&f1, FUTEX_WAIT_PRIVATE, 0, (uintptr_t)&rel, NULL, 0));
    clock_gettime(CLOCK_MONOTONIC, &abs);
    abs.tv_nsec += 5 * 1000 * 1000;
    if (abs.tv_nsec >= 1000000000) abs.tv_sec++, abs.tv_nsec -= 1000000000;
    printf("wait_bitset, absolute timeout: %ld\n",
           futex(&f1, FUTEX_WAIT_BITSET_PRIVATE, 0, (uintptr_t)&abs, NULL, FUTEX_BITSET_MATCH_ANY));
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_nsec += 5 * 1000 * 1000;
    if (abs.tv_nsec >= 1000000000) abs.tv_sec++, abs.tv_nsec -= 1000000000;
    printf("wait_bitset, realtime clock: %ld\n",
           futex(&f1, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, (uintptr_t)&abs, NULL,
                 FUTEX_BITSET_MATCH_ANY));
    printf("bitset 0: %ld, unaligned: %ld\n",
           futex(&f1, FUTEX_WAIT_BITSET_PRIVATE, 0, 0, NULL, 0),
           futex((uint32_t *)((char *)&f1 + 1), FUTEX_WAKE, 1, 0, NULL, 0));
    printf("wake with nobody waiting: %ld\n", futex(&f1, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0));

    pthread_t t[2];
    /* requeue: two waiters move from f1 to f2, then wake there one at a time */
    for (long i = 0; i < 2; i++) pthread_create(&t[i], NULL, wait_f1, (void *)i);
    until_waiting(&f1, 2);
    printf("cmp_requeue with a stale value: %ld\n",
           futex(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 0, 2, &f2, 7));
    printf("requeue: %ld moved\n", futex(&f1, FUTEX_REQUEUE_PRIVATE, 0, 2, &f2, 0));
    printf("now waiting on f1 %ld, on f2 %ld\n", waiting(&f1), waiting(&f2));
    printf("wake f2: %ld\n", futex(&f2, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0));
    printf("wake f2: %ld\n", futex(&f2, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0));
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    printf("waiters returned %ld %ld\n", results[0], results[1]);

    /* wake_op: f3 += 5; wake one on f1, and one on f3 if f3 was 0 */
    pthread_create(&t[0], NULL, wait_f1, (void *)2);
    until_waiting(&f1, 1);
    long n = futex(&f1, FUTEX_WAKE_OP_PRIVATE, 1, 1, &f3,
                   FUTEX_OP(FUTEX_OP_ADD, 5, FUTEX_OP_CMP_EQ, 0));
    pthread_join(t[0], NULL);
    printf("wake_op: woke %ld, f3 %u, waiter returned %ld\n", n, f3, results[2]);

    /* wake_bitset: a waiter on bit 2 ignores a wake for bit 1 */
    pthread_create(&t[0], NULL, wait_bits, (void *)3);
    until_waiting(&f1, 1);
    printf("wake_bitset 1: %ld\n", futex(&f1, FUTEX_WAKE_BITSET_PRIVATE, 1, 0, NULL, 1));
    printf("wake_bitset 2: %ld\n", futex(&f1, FUTEX_WAKE_BITSET_PRIVATE, 1, 0, NULL, 2));
    pthread_join(t[0], NULL);
    printf("bitset waiter returned %ld\n", results[3]);
    return 0;
}
