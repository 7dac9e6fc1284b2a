/* A SIGINT handler that uses the FPU interrupts a loop that keeps its sum in FP registers:
 * after the handler the loop must go on with its own values. Prints "ok". */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
volatile double noise;

static void on_int(int sig) {
    double x = sig;
    for (int i = 0; i < 50; i++) x = x * 1.0001 + 0.5; /* clobbers FP/vector registers */
    noise = x;
    stop = 1;
}

int main(void) {
    signal(SIGINT, on_int);
    printf("looping\n");
    fflush(stdout);
    double acc = 0.0, step = 0.5;
    unsigned long n = 0;
    while (!stop) {
        acc += step * (double)n;
        n++;
    }
    /* sum of 0.5*i for i < n, exact in doubles for the n reached here */
    double want = 0.25 * (double)n * (double)(n - 1);
    printf("%s\n", acc == want ? "ok" : "corrupted"); /* n depends on when the signal came */
    return acc == want ? 0 : 1;
}
