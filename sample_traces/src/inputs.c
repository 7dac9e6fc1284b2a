/* Reads every kind of outside input and prints what it got: stdin, clocks, random, a file. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    char line[256] = "";
    if (!fgets(line, sizeof line, stdin)) strcpy(line, "(no input)\n");
    printf("stdin: %s", line);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    printf("realtime: %lld.%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    printf("monotonic: %lld.%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
    printf("time: %lld\n", (long long)time(NULL));

    unsigned char rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) == (ssize_t)sizeof rnd) {
        printf("random:");
        for (unsigned i = 0; i < sizeof rnd; i++) printf(" %02x", rnd[i]);
        printf("\n");
    }

    const char *path = argc > 1 ? argv[1] : "/etc/hostname";
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    printf("file %s (%zd bytes): %s", path, n, buf);
    printf("pid: %d\n", getpid());
    return 0;
}
