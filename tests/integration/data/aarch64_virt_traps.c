/* Synchronous exceptions on QEMU's AArch64 virt, from EL1h and EL1t: external aborts on
 * loads, stores and fetches where nothing is mapped, alignment faults of exclusives and of
 * load-acquire/store-release, FP instructions (two in one block: each traps) and FPCR/FPSR
 * accesses with CPACR_EL1.FPEN clear, smc (undefined: virt has no EL3), brk, svc, udf. The
 * handler prints ESR/FAR/ELR/SPSR and moves ELR on; the test compares the output with
 * qemu-system-aarch64's. */
#include <stdint.h>

#define REG32(a) (*(volatile uint32_t *)(uintptr_t)(a))
#define UART_DR REG32(0x09000000)
#define MRS(r) ({ uint64_t v; __asm__ volatile("mrs %0, " #r : "=r"(v)); v; })
#define MSR(r, v) __asm__ volatile("msr " #r ", %0" ::"r"((uint64_t)(v)))
#define NOWHERE 0x50000000UL /* past the 128 MiB of RAM: nothing there on virt */

static uint8_t buf[64] __attribute__((aligned(16)));

static void putc_(char c) { UART_DR = (uint32_t)c; }
static void puts_(const char *s) { while (*s) putc_(*s++); }
static void puthex(uint64_t v) {
    puts_("0x");
    for (int i = 60; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 15]);
}
static void show(const char *name, uint64_t v) { puts_(name); puts_(" "); puthex(v); puts_("\n"); }

void on_exception(uint64_t vector, uint64_t *frame) {
    uint64_t esr = MRS(esr_el1), elr = MRS(elr_el1), ec = esr >> 26;
    show("vector", vector);
    show("  esr", esr);
    if (ec == 0x24 || ec == 0x25 || ec == 0x20 || ec == 0x21) show("  far", MRS(far_el1));
    show("  elr", elr);
    show("  spsr", MRS(spsr_el1));
    if (ec == 0x20 || ec == 0x21) MSR(elr_el1, frame[1]); /* back to the caller */
    else if (ec != 0x15) MSR(elr_el1, elr + 4);          /* past the faulting instruction */
}

void main(void) {
    uint64_t v = 0, status = 0;
    uint8_t *odd = buf + 1;
    puts_("load nowhere\n");
    __asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(NOWHERE) : "memory");
    puts_("store nowhere\n");
    __asm__ volatile("str %0, [%1]" ::"r"(v), "r"(NOWHERE + 8) : "memory");
    puts_("ldxr misaligned\n");
    __asm__ volatile("ldxr %0, [%1]" : "=r"(v) : "r"(odd) : "memory");
    puts_("stxr misaligned\n");
    __asm__ volatile("stxr %w0, %1, [%2]" : "=&r"(status) : "r"(v), "r"(odd) : "memory");
    puts_("ldaxr misaligned\n");
    __asm__ volatile("ldaxr %w0, [%1]" : "=r"(v) : "r"(odd + 2) : "memory");
    puts_("smc\n");
    __asm__ volatile("smc #0" ::: "memory");
    puts_("brk\n");
    __asm__ volatile("brk #0x42" ::: "memory");
    puts_("svc\n");
    __asm__ volatile("svc #7" ::: "memory");
    puts_("udf\n");
    __asm__ volatile(".inst 0x00000000" ::: "memory");
    puts_("ldar misaligned\n");
    __asm__ volatile("ldar %0, [%1]" : "=r"(v) : "r"(odd) : "memory");
    puts_("stlr misaligned\n");
    __asm__ volatile("stlr %0, [%1]" :: "r"(v), "r"(odd) : "memory");
    puts_("fp with FPEN clear\n");
    __asm__ volatile(".inst 0x9e6703e0" ::: "memory");
    puts_("two fp in one block with FPEN clear: each traps\n");
    __asm__ volatile(".inst 0x9e670020\n .inst 0x9e670041" ::: "memory"); /* fmov d0, x1; d1, x2 */
    puts_("mrs fpcr with FPEN clear\n");
    __asm__ volatile("mrs %0, fpcr" : "=r"(v)::"memory");
    puts_("msr fpsr with FPEN clear\n");
    __asm__ volatile("msr fpsr, %0" ::"r"(v) : "memory");
    puts_("jump nowhere\n");
    __asm__ volatile("blr %0" ::"r"(NOWHERE) : "x30", "memory");
    puts_("at el1t: load nowhere\n");
    __asm__ volatile("msr spsel, #0\n ldr %0, [%1]\n msr spsel, #1" : "=r"(v) : "r"(NOWHERE) : "memory");
    show("status", status);
    register uint64_t x0 __asm__("x0") = 0x84000008UL;
    __asm__ volatile("hvc #0" : "+r"(x0)::"memory");
}
