/* Reads the CPU's time counter directly (no syscall) in a loop: prints the raw values and the
 * differences, checks they never go backwards, and lets the counter decide how long a loop
 * spins and which branch runs, so a replay that fed other values would print other lines. */
#include <stdint.h>
#include <stdio.h>

static inline uint64_t counter(void)
{
    uint64_t v;
#if defined(__x86_64__)
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    v = (uint64_t)hi << 32 | lo;
#elif defined(__aarch64__)
    __asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
#elif defined(__riscv)
    __asm__ volatile("rdtime %0" : "=r"(v));
#endif
    return v;
}

/* The architecture's other reads: rdtscp; the counter's frequency, which must agree with the
 * rate cntvct_el0 advances at; rdcycle and rdinstret. */
static inline uint64_t other_counter(void)
{
    uint64_t v;
#if defined(__x86_64__)
    uint32_t lo, hi, aux;
    __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
    v = (uint64_t)hi << 32 | lo;
    v += aux; /* TSC_AUX: cpu 0 */
#elif defined(__aarch64__)
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
#elif defined(__riscv)
    uint64_t c;
    __asm__ volatile("rdcycle %0; rdinstret %1" : "=r"(c), "=r"(v));
    v += c;
#endif
    return v;
}

int main(void)
{
    uint64_t prev = counter(), first = prev;
    int backwards = 0;
    for (int i = 0; i < 5; i++) {
        uint64_t now = counter();
        printf("read %d: %llu (+%llu)\n", i, (unsigned long long)now,
               (unsigned long long)(now - prev));
        backwards |= now < prev;
        prev = now;
    }
    printf("order: %s\n", backwards ? "went backwards" : "never backwards");
    /* Control flow from the counter: spin until it moved on, then branch on its low bits. */
    unsigned long spins = 0;
    while (counter() - first < 2000)
        spins++;
    printf("spins: %lu\n", spins);
    printf("branch: %s\n", (counter() >> 3) & 1 ? "odd" : "even");
    printf("other: %llu\n", (unsigned long long)other_counter());
    return 0;
}
