/* The FP control state across a signal: main sets a non-default rounding mode, a handler
 * reports what it starts with and changes it, and main checks that sigreturn restored its
 * own. Prints one line per step. */
#include <signal.h>
#include <stdio.h>

#if defined(__x86_64__)
static unsigned long get_control(void)
{
    unsigned short fcw;
    unsigned int mxcsr;
    __asm__ volatile("fnstcw %0; stmxcsr %1" : "=m"(fcw), "=m"(mxcsr));
    return (unsigned long)fcw << 32 | mxcsr;
}
static void set_control(unsigned long v)
{
    unsigned short fcw = v >> 32;
    unsigned int mxcsr = (unsigned int)v;
    __asm__ volatile("fldcw %0; ldmxcsr %1" : : "m"(fcw), "m"(mxcsr));
}
static const unsigned long CHANGED = 0x0e7fUL << 32 | 0x7f80; /* toward zero, both units */
static const unsigned long OTHER = 0x027fUL << 32 | 0x3f80;   /* down, 53-bit x87 */
#elif defined(__aarch64__)
static unsigned long get_control(void)
{
    unsigned long v;
    __asm__ volatile("mrs %0, fpcr" : "=r"(v));
    return v;
}
static void set_control(unsigned long v) { __asm__ volatile("msr fpcr, %0" : : "r"(v)); }
static const unsigned long CHANGED = 3UL << 22; /* RMode toward zero */
static const unsigned long OTHER = 2UL << 22;   /* toward minus infinity */
#elif defined(__riscv)
static unsigned long get_control(void)
{
    unsigned long v;
    __asm__ volatile("frcsr %0" : "=r"(v));
    return v;
}
static void set_control(unsigned long v) { __asm__ volatile("fscsr %0" : : "r"(v)); }
static const unsigned long CHANGED = 1UL << 5; /* frm = RTZ */
static const unsigned long OTHER = 2UL << 5;   /* frm = RDN */
#endif

static volatile unsigned long in_handler;

static void on_usr1(int sig)
{
    (void)sig;
    in_handler = get_control();
    set_control(OTHER);
}

int main(void)
{
    printf("start %lx\n", get_control());
    set_control(CHANGED);
    signal(SIGUSR1, on_usr1);
    raise(SIGUSR1);
    printf("handler %lx\n", in_handler);
    printf("after %lx (%s)\n", get_control(), get_control() == CHANGED ? "restored" : "lost");
    return 0;
}
