/* Bench programs: `compute T N` splits N rounds of work over T threads (0: main alone); `pingpong N` passes a
 * token between two threads N times through a mutex and condition variable. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long rounds;

static void *compute(void *arg) {
    unsigned long x = (unsigned long)arg + 1;
    for (long i = 0; i < rounds; i++) x = x * 6364136223846793005UL + 1442695040888963407UL;
    return (void *)(x >> 60);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static int turn;
static long passes;

static void *player(void *arg) {
    int me = (int)(long)arg;
    for (long i = 0; i < passes; i++) {
        pthread_mutex_lock(&lock);
        while (turn != me) pthread_cond_wait(&turn_changed, &lock);
        turn = !me;
        pthread_cond_signal(&turn_changed);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "compute")) {
        int threads = atoi(argv[2]);
        pthread_t t[64];
        rounds = atol(argv[3]) / (threads ? threads : 1);
        long sum = 0;
        if (threads == 0) sum = (long)compute(0); /* the same work on the main thread alone */
        for (long i = 0; i < threads && i < 64; i++) pthread_create(&t[i], NULL, compute, (void *)i);
        for (int i = 0; i < threads && i < 64; i++) {
            void *r;
            pthread_join(t[i], &r);
            sum += (long)r;
        }
        printf("compute: %ld\n", sum);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "pingpong")) {
        pthread_t a, b;
        passes = atol(argv[2]);
        pthread_create(&a, NULL, player, (void *)0);
        pthread_create(&b, NULL, player, (void *)1);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        printf("pingpong: %ld passes\n", passes);
        return 0;
    }
    return 2;
}
