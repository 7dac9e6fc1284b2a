/* PSCI CPU_SUSPEND on QEMU's AArch64 virt (QEMU 7.2: power_state with bits above 16 is
 * INVALID_PARAMETERS; any other returns SUCCESS in x0 after a wait for interrupt, as wfi).
 * Cases: an invalid power_state; a suspend with IRQs masked that the armed virtual timer
 * ends (the timer condition is met when it returns, the interrupt pending at the GIC); a
 * suspend with the interrupt already pending (returns at once); and one with IRQs unmasked,
 * where the timer interrupt is taken on return, at the instruction after the hvc. Runs on
 * aarch64_virt_entry_probe.S's vectors; the test compares the output with qemu's. */
#include <stdint.h>

#define REG32(a) (*(volatile uint32_t *)(uintptr_t)(a))
#define REG8(a) (*(volatile uint8_t *)(uintptr_t)(a))
#define UART_DR REG32(0x09000000)
#define D(off) REG32(0x08000000 + (off))
#define C(off) REG32(0x08010000 + (off))
#define MRS(r) ({ uint64_t v; __asm__ volatile("mrs %0, " #r : "=r"(v)); v; })
#define MSR(r, v) __asm__ volatile("msr " #r ", %0" ::"r"((uint64_t)(v)))
#define CPU_SUSPEND 0xC4000001UL
#define CPU_SUSPEND32 0x84000001UL

extern char after_suspend[];
volatile uint64_t elr_seen, taken;

static void putc_(char c) { UART_DR = (uint32_t)c; }
static void puts_(const char *s) { while (*s) putc_(*s++); }
static void puthex(uint64_t v) {
    puts_("0x");
    for (int i = 60; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 15]);
}
static void show(const char *name, uint64_t v) { puts_(name); puts_(" "); puthex(v); puts_("\n"); }

static uint64_t suspend_as(uint64_t fn, uint64_t power_state) {
    register uint64_t x0 __asm__("x0") = fn;
    register uint64_t x1 __asm__("x1") = power_state;
    register uint64_t x2 __asm__("x2") = 0x40000000;
    register uint64_t x3 __asm__("x3") = 0;
    __asm__ volatile("hvc #0\n.globl after_suspend\nafter_suspend:"
                     : "+r"(x0) : "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
}

static uint64_t suspend(uint64_t power_state) { return suspend_as(CPU_SUSPEND, power_state); }

void on_exception(uint64_t vector) {
    elr_seen = MRS(elr_el1);
    uint32_t iar = C(0x0c);
    show("vector", vector);
    show("  iar", iar);
    MSR(cntv_ctl_el0, 3); /* IMASK: the line drops */
    C(0x10) = iar;
    taken++;
}

static void arm_timer(uint64_t ticks) {
    MSR(cntv_tval_el0, ticks);
    MSR(cntv_ctl_el0, 1);
}

void main(void) {
    D(0x000) = 1;
    D(0x100) = 1u << 27;
    REG8(0x08000400 + 27) = 0x80;
    C(0x004) = 0xff;
    C(0x000) = 1;

    show("invalid power_state", suspend(1u << 17));
    show("invalid power_state (32-bit call)", suspend_as(CPU_SUSPEND32, 1u << 31));

    arm_timer(50000);
    show("masked: result", suspend(0));
    show("  istatus", (MRS(cntv_ctl_el0) >> 2) & 1);
    show("  hppir", C(0x18));
    show("  taken", taken);

    show("pending: result", suspend(0));
    show("  taken", taken);
    show("pending (32-bit call): result", suspend_as(CPU_SUSPEND32, 1));
    show("  istatus", (MRS(cntv_ctl_el0) >> 2) & 1);
    MSR(cntv_ctl_el0, 3);
    show("  hppir after imask", C(0x18));

    arm_timer(50000);
    __asm__ volatile("msr daifclr, #2");
    show("unmasked: result", suspend(0));
    __asm__ volatile("msr daifset, #2");
    show("  taken", taken);
    show("  elr is after the hvc", elr_seen == (uint64_t)after_suspend);

    register uint64_t x0 __asm__("x0") = 0x84000008UL;
    __asm__ volatile("hvc #0" : "+r"(x0)::"memory");
}
