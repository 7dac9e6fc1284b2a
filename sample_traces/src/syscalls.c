/* Syscall-heavy guest: 30,000 small syscalls (clock reads, writes, reads) and little else. */
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    int out = open("/dev/null", O_WRONLY);
    int in = open("/dev/zero", O_RDONLY);
    char buf[64];
    long sum = 0;
    struct timespec ts;
    for (int i = 0; i < 10000; i++) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sum += read(in, buf, sizeof buf);
        sum += write(out, buf, 16);
    }
    printf("syscalls done, %ld bytes moved\n", sum);
    return 0;
}
