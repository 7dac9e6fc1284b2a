/* Runs until a signal ends it: spins (no argument) or blocks reading stdin (any argument). */
#include <stdio.h>
#include <unistd.h>

volatile unsigned long spins;

int main(int argc, char **argv) {
    (void)argv;
    if (argc > 1) {
        char buf[64];
        printf("reading\n");
        fflush(stdout);
        ssize_t got = read(0, buf, sizeof buf);
        printf("read %zd\n", got);
        return 0;
    }
    printf("spinning\n");
    fflush(stdout);
    for (;;)
        spins++;
}
