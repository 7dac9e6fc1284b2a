/* Reads AArch64's physical counter from user space, which Linux does not allow (SIGILL). */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static void on_ill(int sig)
{
    (void)sig;
    printf("SIGILL\n");
    exit(3);
}

int main(void)
{
    uint64_t v;
    signal(SIGILL, on_ill);
    printf("reading\n");
    fflush(stdout);
    __asm__ volatile("mrs %0, cntpct_el0" : "=r"(v));
    printf("read %d\n", v != 0);
    return 0;
}
