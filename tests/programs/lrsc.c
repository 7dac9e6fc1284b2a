/* Atomic adds to a counter by load-reserved / store-conditional retry loops (lr.d/sc.d;
 * ldxr/stxr). `after_lr` labels the instruction right after the load, where the CPU holds a
 * reservation that decides whether the store succeeds. Prints the counter. */
#include <stdio.h>

static long counter;

__attribute__((noinline)) static long atomic_add(long *p, long v)
{
    long old, new, fail;
#if defined(__riscv)
    __asm__ volatile("1: lr.d %0, (%3)\n.globl after_lr\nafter_lr:\n"
                     "add %1, %0, %4\nsc.d %2, %1, (%3)\nbnez %2, 1b"
                     : "=&r"(old), "=&r"(new), "=&r"(fail) : "r"(p), "r"(v) : "memory");
#elif defined(__aarch64__)
    __asm__ volatile("1: ldxr %0, [%3]\n.globl after_lr\nafter_lr:\n"
                     "add %1, %0, %4\nstxr %w2, %1, [%3]\ncbnz %w2, 1b"
                     : "=&r"(old), "=&r"(new), "=&r"(fail) : "r"(p), "r"(v) : "memory");
#else
#error "lr/sc: riscv64 or aarch64 only"
#endif
    return old;
}

int main(void)
{
    for (long i = 1; i <= 10; i++)
        atomic_add(&counter, i);
    printf("%ld\n", counter);
    return 0;
}
