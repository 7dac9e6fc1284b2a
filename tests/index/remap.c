/* munmap of two anonymous pages holding non-zero bytes, then a new anonymous mapping at the
 * same addresses: as on Linux, it reads zeros. */
#include <stdio.h>
#include <sys/mman.h>

int main(void) {
    const int prot = PROT_READ | PROT_WRITE, flags = MAP_PRIVATE | MAP_ANONYMOUS;
    volatile unsigned char *p = mmap(0, 2 * 4096, prot, flags, -1, 0);
    if (p == MAP_FAILED) return 1;
    p[5] = 0x5a;
    p[4096 + 9] = 0xa5;
    if (munmap((void *)p, 2 * 4096)) return 2;
    volatile unsigned char *q = mmap((void *)p, 2 * 4096, prot, flags | MAP_FIXED, -1, 0);
    if (q != p) return 3;
    printf("%d %d\n", q[5], q[4096 + 9]);
    return 0;
}
