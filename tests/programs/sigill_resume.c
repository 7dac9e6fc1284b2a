/* A SIGILL handler that reads where the illegal instruction was and resumes after it: the
   signal's pc must be the instruction's own address, as the kernel gives it, or the program
   resumes in the wrong place. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

void ill_a(void);
void ill_b(void);
static volatile uintptr_t seen;

#if defined(__x86_64__)
#define PC(uc) ((uc)->uc_mcontext.gregs[REG_RIP])
__asm__(".text\n.globl ill_a\nill_a: ud2\nret\n.globl ill_b\nill_b: .byte 0x0f, 0x0b\nret\n");
#define LEN_A 2
#define LEN_B 2
#elif defined(__aarch64__)
#define PC(uc) ((uc)->uc_mcontext.pc)
__asm__(".text\n.globl ill_a\nill_a: .inst 0x00000000\nret\n.globl ill_b\nill_b: .inst 0x0000ffff\nret\n");
#define LEN_A 4
#define LEN_B 4
#elif defined(__riscv)
#define PC(uc) ((uc)->uc_mcontext.__gregs[REG_PC])
__asm__(".text\n.globl ill_a\nill_a: .word 0x0000000b\nret\n.globl ill_b\nill_b: .2byte 0x0000\nret\n");
#define LEN_A 4
#define LEN_B 2
#endif

static uintptr_t len;

static void on_sigill(int sig, siginfo_t *info, void *ctx) {
    ucontext_t *uc = ctx;
    (void)sig;
    seen = PC(uc);
    if ((uintptr_t)info->si_addr != seen) seen |= 1; /* si_addr must be the pc too */
    PC(uc) += len;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigill;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGILL, &sa, NULL);
    len = LEN_A;
    ill_a();
    printf("a: signal pc at %+ld from the instruction\n", (long)(seen - (uintptr_t)ill_a));
    len = LEN_B;
    ill_b();
    printf("b: signal pc at %+ld from the instruction\n", (long)(seen - (uintptr_t)ill_b));
    puts("resumed after both");
    return 0;
}
