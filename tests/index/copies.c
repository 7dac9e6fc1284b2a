/* Copies bytes of its input through buffers and registers, for the provenance test. */
#include <fcntl.h>
#include <unistd.h>

static char input[64], first[64], second[64], third[16], fourth[8];
volatile long parked;

int main(int argc, char **argv) {
    if (read(0, input, sizeof input) < 16) return 1;
    if (argc > 1) { /* a file read after a seek: third[k] holds its byte 5 + k */
        int fd = open(argv[1], O_RDONLY);
        if (fd < 0 || read(fd, third, 2) != 2 || lseek(fd, 5, SEEK_SET) != 5) return 1;
        if (read(fd, third, 4) != 4 || read(fd, third + 4, 4) != 4) return 1;
        close(fd);
        /* Descriptors made by dup, fcntl(F_DUPFD) and dup2 share one file offset: fourth
         * holds the bytes at 13, 14, 16, 17, 18 (opened read-write: no stored copy). */
        fd = open(argv[1], O_RDWR);
        if (fd < 0 || lseek(fd, 13, SEEK_SET) != 13) return 1;
        int copy = dup(fd), high = fcntl(fd, F_DUPFD, 10);
        if (copy < 0 || high < 10 || dup2(copy, 7) != 7) return 1;
        if (read(copy, fourth, 2) != 2 || lseek(high, 1, SEEK_CUR) != 16) return 1;
        if (read(fd, fourth + 2, 2) != 2 || read(7, fourth + 4, 1) != 1) return 1;
        close(fd);
        close(copy);
        close(high);
        close(7);
    }
    for (int i = 0; i < 16; i++) first[i + 5] = input[i]; /* byte by byte */
    long word = *(long *)(first + 8);                     /* input[3..10] in a register */
    parked = word;                                        /* into a global */
    *(long *)(second + 16) = parked;                      /* back out into a buffer */
    second[40] = 'k';                                     /* a constant */
    second[41] = second[16] ^ 0x20;                       /* a computation */
    write(1, second + 16, 8);
    if (argc > 1) write(1, fourth, 5);
    return 0;
}
