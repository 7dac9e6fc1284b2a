/* madvise(MADV_DONTNEED) over four anonymous pages: the first and third hold non-zero bytes,
 * the second only a zero stored by an instruction, the fourth was never touched. Afterwards
 * every page reads as zero, as Linux drops them for zero-fill pages. */
#include <stdio.h>
#include <sys/mman.h>

int main(void) {
    volatile unsigned char *p = mmap(0, 4 * 4096, PROT_READ | PROT_WRITE,
                                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 1;
    p[0 * 4096 + 5] = 0x5a;
    p[2 * 4096 + 4095] = 0xa5;
    p[1 * 4096 + 7] = 0;
    if (madvise((void *)p, 4 * 4096, MADV_DONTNEED)) return 2;
    printf("%d %d %d\n", p[5], p[2 * 4096 + 4095], p[4096 + 7]);
    return 0;
}
