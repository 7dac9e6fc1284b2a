#include <sys/mman.h>
#include <stdio.h>
#include <unistd.h>
/* Hundreds of mappings (alternating protections: none merge), then syscalls that walk them. */
int main(void) {
    char *p[400];
    for (int i = 0; i < 400; i++) {
        p[i] = mmap(0, 4096 * (1 + i % 3), i % 2 ? PROT_READ : PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (i % 2 == 0) p[i][0] = i;
    }
    long sum = 0;
    for (int r = 0; r < 300; r++) {
        char *q = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        q[0] = r;
        mprotect(q, 4096, PROT_READ);
        sum += q[0];
        munmap(q, 8192);
        for (int k = 0; k < 200; k++) sum += k * r;
    }
    printf("%ld\n", sum);
    return 0;
}
