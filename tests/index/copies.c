/* Copies bytes of its input through buffers and registers, for the provenance test. */
#include <fcntl.h>
#include <unistd.h>

static char input[64], first[64], second[64], third[16];
volatile long parked;

int main(int argc, char **argv) {
    if (read(0, input, sizeof input) < 16) return 1;
    if (argc > 1) { /* a file read after a seek: third[k] holds its byte 5 + k */
        int fd = open(argv[1], O_RDONLY);
        if (fd < 0 || read(fd, third, 2) != 2 || lseek(fd, 5, SEEK_SET) != 5) return 1;
        if (read(fd, third, 4) != 4 || read(fd, third + 4, 4) != 4) return 1;
        close(fd);
    }
    for (int i = 0; i < 16; i++) first[i + 5] = input[i]; /* byte by byte */
    long word = *(long *)(first + 8);                     /* input[3..10] in a register */
    parked = word;                                        /* into a global */
    *(long *)(second + 16) = parked;                      /* back out into a buffer */
    second[40] = 'k';                                     /* a constant */
    second[41] = second[16] ^ 0x20;                       /* a computation */
    write(1, second + 16, 8);
    return 0;
}
