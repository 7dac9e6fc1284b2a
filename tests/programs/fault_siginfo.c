/* Handlers that see synchronous faults' siginfo and siglongjmp out: for each fault, the
   signal, si_code and si_addr less the address Linux reports (the address accessed, the
   jump's target, the instruction), as the kernel delivers them. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

#define PAGE 4096

void trap_insn(void);
#if defined(__x86_64__)
#define PC(uc) ((uc)->uc_mcontext.gregs[REG_RIP])
__asm__(".text\n.globl trap_insn\ntrap_insn: int3\nret\n"
        ".globl div_insn\ndiv_insn: idivl %esi\nret\n");
void div_insn(void);
#elif defined(__aarch64__)
#define PC(uc) ((uc)->uc_mcontext.pc)
__asm__(".text\n.globl trap_insn\ntrap_insn: brk #0\nret\n"
        ".globl excl_insn\nexcl_insn: ldxr w0, [x0]\nret\n");
int excl_insn(volatile char *p);
#elif defined(__riscv)
#define PC(uc) ((uc)->uc_mcontext.__gregs[REG_PC])
__asm__(".text\n.globl trap_insn\ntrap_insn: .option push\n.option norvc\nebreak\n"
        ".option pop\nret\n.globl excl_insn\nexcl_insn: lr.w a0, (a0)\nret\n"
        ".globl amo_insn\namo_insn: amoadd.w a0, a0, (a0)\nret\n");
int excl_insn(volatile char *p);
int amo_insn(volatile char *p);
#endif

static sigjmp_buf env;
static volatile int seen_sig, seen_code;
static volatile uintptr_t seen_addr, seen_pc;

static void on_fault(int sig, siginfo_t *info, void *ctx) {
    ucontext_t *uc = ctx;
    seen_sig = info->si_signo == sig ? sig : -sig;
    seen_code = info->si_code;
    seen_addr = (uintptr_t)info->si_addr;
    seen_pc = PC(uc);
    siglongjmp(env, 1);
}

static void report(const char *what, uintptr_t expected) {
    if (seen_addr == 0)
        printf("%s: signal %d code %#x addr 0", what, seen_sig, seen_code);
    else
        printf("%s: signal %d code %#x addr %+ld", what, seen_sig, seen_code,
               (long)(seen_addr - expected));
    seen_sig = seen_code = 0;
    seen_addr = 0;
}

#define EXPECT(what, expected, action)                                                   \
    do {                                                                                 \
        if (sigsetjmp(env, 1) == 0) {                                                    \
            action;                                                                      \
            printf("%s: no fault\n", what);                                              \
        } else {                                                                         \
            report(what, (uintptr_t)(expected));                                         \
            putchar('\n');                                                               \
        }                                                                                \
    } while (0)

int main(int argc, char **argv) {
    (void)argc;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    for (int s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP) sigaction(s, &sa, NULL);

    char *hole = mmap(NULL, 4 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(hole, 4 * PAGE);
    volatile char *rd = hole + 0x1567;
    volatile int *wr = (volatile int *)(hole + 0x2124);
    EXPECT("read unmapped", rd, (void)*rd);
    EXPECT("write unmapped", wr, *wr = 1);
    void (*to_hole)(void) = (void (*)(void))(hole + 0x3010);
    EXPECT("jump unmapped", to_hole, to_hole()); /* before a mapping can fill the hole */

    char *ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    volatile char *row = ro + 0x35;
    EXPECT("read read-only", row, (void)*row);  /* no fault */
    EXPECT("write read-only", row, *row = 1);

    char *data = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(data, 0, PAGE);
    void (*to_data)(void) = (void (*)(void))(data + 0x40);
    EXPECT("jump non-executable", to_data, to_data());

    int fd = open(argv[0], O_RDONLY);
    struct stat st;
    fstat(fd, &st);
    size_t within = ((size_t)st.st_size + PAGE - 1) & ~(size_t)(PAGE - 1);
    char *file = mmap(NULL, within + 2 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    volatile char *tail = file + st.st_size; /* the rest of the last page: zeros */
    EXPECT("read file tail", tail, printf("file tail reads %d\n", *tail));
    volatile char *past = file + within + 0x123;
    EXPECT("read past file", past, (void)*past);

    static char aligned[16] __attribute__((aligned(16)));
    volatile char *odd = aligned + 5;
#if defined(__aarch64__) || defined(__riscv)
    /* Exclusive (and RISC-V atomic) accesses must be aligned: SIGBUS BUS_ADRALN. */
    EXPECT("misaligned exclusive", odd, excl_insn(odd));
    printf("misaligned exclusive pc %+ld from the instruction\n",
           (long)(seen_pc - (uintptr_t)excl_insn));
#endif
#if defined(__aarch64__)
    void (*misaligned)(void) = (void (*)(void))((uintptr_t)trap_insn + 2);
    EXPECT("jump misaligned", misaligned, misaligned()); /* SIGBUS BUS_ADRALN at the target */
    printf("jump misaligned pc %+ld from the target\n", (long)(seen_pc - (uintptr_t)misaligned));
#endif
#if defined(__riscv)
    EXPECT("misaligned atomic", odd, amo_insn(odd));
    printf("misaligned atomic pc %+ld from the instruction\n",
           (long)(seen_pc - (uintptr_t)amo_insn));
#endif
#if defined(__x86_64__)
    /* Past the 48-bit canonical range: #GP, SIGSEGV SI_KERNEL and no address. */
    volatile char *noncanonical = (volatile char *)0x0000800000001235ul;
    EXPECT("read non-canonical", noncanonical, (void)*noncanonical);
    EXPECT("write non-canonical", noncanonical, *noncanonical = 1);
    EXPECT("divide by zero", div_insn, __asm__ volatile("xor %%esi, %%esi\nmov $7, %%eax\n"
                                                        "cltd\ncall div_insn"
                                                        ::: "eax", "edx", "esi", "memory"));
#endif
    /* Canonical but the kernel's: a page fault, SEGV_MAPERR at the address. */
    volatile char *kernel = (volatile char *)0xffff800000001235ul;
    EXPECT("read kernel half", kernel, (void)*kernel);
    EXPECT("trap", trap_insn, trap_insn());
    printf("trap pc %+ld from the instruction\n", (long)(seen_pc - (uintptr_t)trap_insn));
    puts("done");
    return 0;
}
