#include <stdint.h>

#define REG32(a) (*(volatile uint32_t *)(uintptr_t)(a))
#define REG8(a) (*(volatile uint8_t *)(uintptr_t)(a))
#define UART_DR REG32(0x09000000)
#define D(off) REG32(0x08000000 + (off))
#define C(off) REG32(0x08010000 + (off))
#define MRS(r) ({ uint64_t v; __asm__ volatile("mrs %0, " #r : "=r"(v)); v; })

uint64_t get_sp(void);
void run_on_sp_el0(uint64_t *stack_top, void (*fn)(void));
static uint64_t el0_stack[256];
volatile int taken;

static void putc_(char c) { UART_DR = (uint32_t)c; }
static void puts_(const char *s) {
    while (*s) putc_(*s++);
}
static void puthex(uint64_t v) {
    puts_("0x");
    for (int i = 60; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 15]);
}
static void show(const char *name, uint64_t v) {
    puts_(name);
    puts_(" ");
    puthex(v);
    puts_("\n");
}

void on_exception(uint64_t vector) {
    show("vector", vector);
    show("  spsel", MRS(spsel));
    show("  daif", MRS(daif));
    show("  sp", get_sp());
    show("  spsr", MRS(spsr_el1));
    uint32_t iar = C(0x0c);
    show("  iar", iar);
    __asm__ volatile("msr cntv_ctl_el0, %0" ::"r"(3UL)); /* IMASK: the line drops */
    C(0x10) = iar;
    taken++;
}

static void wait_at_el1t(void) {
    show("el1t sp", get_sp());
    show("el1t spsel", MRS(spsel));
    __asm__ volatile("msr cntv_ctl_el0, %0" ::"r"(1UL)); /* CVAL 0: the line rises */
    __asm__ volatile("msr daifclr, #2");
    while (!taken) {
    }
    __asm__ volatile("msr daifset, #2");
    show("el1t sp after", get_sp());
}

void main(void) {
    D(0x000) = 3;
    D(0x100) = 1u << 27;
    REG8(0x08000400 + 27) = 0x80;
    C(0x004) = 0xff;
    __asm__ volatile("msr cntv_cval_el0, xzr");

    /* FIQ: the timer in group 0 with FIQEn. */
    C(0x000) = 1 | 8;
    show("main sp", get_sp());
    __asm__ volatile("msr cntv_ctl_el0, %0" ::"r"(1UL));
    __asm__ volatile("msr daifclr, #1");
    while (!taken) {
    }
    __asm__ volatile("msr daifset, #1");
    show("main sp after fiq", get_sp());

    /* IRQ at EL1t: group 1 with AckCtl, no FIQEn. */
    taken = 0;
    D(0x080) = 1u << 27;
    C(0x000) = 3 | 4;
    run_on_sp_el0(el0_stack + 256, wait_at_el1t);
    show("main sp after irq", get_sp());
    show("main spsel", MRS(spsel));

    register uint64_t x0 __asm__("x0") = 0x84000008UL;
    __asm__ volatile("hvc #0" : "+r"(x0)::"memory");
}
