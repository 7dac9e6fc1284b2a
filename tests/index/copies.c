/* Copies bytes of its input through buffers and registers, for the provenance test. */
#include <unistd.h>

static char input[64], first[64], second[64];
volatile long parked;

int main(void) {
    if (read(0, input, sizeof input) < 16) return 1;
    for (int i = 0; i < 16; i++) first[i + 5] = input[i]; /* byte by byte */
    long word = *(long *)(first + 8);                     /* input[3..10] in a register */
    parked = word;                                        /* into a global */
    *(long *)(second + 16) = parked;                      /* back out into a buffer */
    second[40] = 'k';                                     /* a constant */
    second[41] = second[16] ^ 0x20;                       /* a computation */
    write(1, second + 16, 8);
    return 0;
}
