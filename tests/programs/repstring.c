/* x86-64 string instructions with rep prefixes (one iteration per counted instruction), and
 * calls (a store followed by a jump in one instruction), for watchpoint landings. */
#include <stdio.h>

static char src[64] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ!?";
static char dst[64], fill[64];

int main(void) {
    void *d = dst, *s = src;
    unsigned long n = 40;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n)::"memory");
    d = fill;
    n = 8;
    __asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(0x4141414141414141UL) : "memory");
    printf("%.40s %.8s\n", dst, fill);
    return 0;
}
