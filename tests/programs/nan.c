/* SSE arithmetic on two NaN operands: x86 hardware returns the first source operand's NaN
 * (quieted); the payload tells which operand won. Prints the result bits of addss, mulss,
 * addsd and mulsd for (qNaN with payload 1, qNaN with payload 2), both orders. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static float f(uint32_t bits) { float x; memcpy(&x, &bits, 4); return x; }
static double d(uint64_t bits) { double x; memcpy(&x, &bits, 8); return x; }
static uint32_t fb(float x) { uint32_t b; memcpy(&b, &x, 4); return b; }
static uint64_t db(double x) { uint64_t b; memcpy(&b, &x, 8); return b; }

int main(void)
{
    float a = f(0x7fc00001), b = f(0x7fc00002);
    double c = d(0x7ff8000000000001ULL), e = d(0x7ff8000000000002ULL);
    float r;
    double s;
    r = a; __asm__ volatile("addss %1, %0" : "+x"(r) : "x"(b)); printf("addss a,b %08x\n", fb(r));
    r = b; __asm__ volatile("addss %1, %0" : "+x"(r) : "x"(a)); printf("addss b,a %08x\n", fb(r));
    r = a; __asm__ volatile("mulss %1, %0" : "+x"(r) : "x"(b)); printf("mulss a,b %08x\n", fb(r));
    r = b; __asm__ volatile("mulss %1, %0" : "+x"(r) : "x"(a)); printf("mulss b,a %08x\n", fb(r));
    s = c; __asm__ volatile("addsd %1, %0" : "+x"(s) : "x"(e)); printf("addsd c,e %016llx\n", (unsigned long long)db(s));
    s = e; __asm__ volatile("addsd %1, %0" : "+x"(s) : "x"(c)); printf("addsd e,c %016llx\n", (unsigned long long)db(s));
    s = c; __asm__ volatile("mulsd %1, %0" : "+x"(s) : "x"(e)); printf("mulsd c,e %016llx\n", (unsigned long long)db(s));
    s = e; __asm__ volatile("mulsd %1, %0" : "+x"(s) : "x"(c)); printf("mulsd e,c %016llx\n", (unsigned long long)db(s));
    return 0;
}
