/* Compute-bound guest of about 10^9 instructions for the index figures: the compute sample's
 * sieve, then forty rounds of a hash over it (a global rewritten on every step). */
#include <stdio.h>

#define N 2000000
#define ROUNDS 40
static unsigned char composite[N];
unsigned long checksum;

static unsigned long mix(unsigned long h, unsigned long v) {
    h ^= v + 0x9e3779b97f4a7c15UL + (h << 6) + (h >> 2);
    return h;
}

int main(void) {
    unsigned long primes = 0;
    for (unsigned long i = 2; i < N; i++) {
        if (composite[i]) continue;
        primes++;
        for (unsigned long j = i * i; j < N; j += i) composite[j] = 1;
    }
    for (int round = 0; round < ROUNDS; round++)
        for (unsigned long i = 0; i < N; i++) checksum = mix(checksum, composite[i] + i);
    printf("primes below %d: %lu, checksum %016lx\n", N, primes, checksum);
    return 0;
}
