/* Drives the GICv2 of QEMU's AArch64 virt with interrupts masked at the CPU and prints what
 * its registers say at each step (SGIs, priorities and preemption, active priorities, the
 * timer's level-sensitive PPI, split EOI, group 1 without AckCtl, pending set/clear): the
 * test runs it on qemu-system-aarch64 and on ttdbg and compares the outputs. */
#include <stdint.h>

#define REG32(a) (*(volatile uint32_t *)(uintptr_t)(a))
#define REG8(a) (*(volatile uint8_t *)(uintptr_t)(a))
#define UART_DR REG32(0x09000000)
#define D(off) REG32(0x08000000 + (off))
#define C(off) REG32(0x08010000 + (off))

static void putc_(char c) { UART_DR = (uint32_t)c; }
static void puts_(const char *s) {
    while (*s) putc_(*s++);
}
static void puthex(uint64_t v) {
    puts_("0x");
    for (int i = 28; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 15]);
}
static void show(const char *what) {
    puts_(what);
    puts_(": hppir ");
    puthex(C(0x18));
    puts_(" rpr ");
    puthex(C(0x14));
    puts_(" apr ");
    puthex(C(0xd0));
    puts_(" nsapr ");
    puthex(C(0xe0));
    puts_(" pend0 ");
    puthex(D(0x200));
    puts_(" pend1 ");
    puthex(D(0x204));
    puts_(" act0 ");
    puthex(D(0x300));
    puts_("\n");
}
static void iar(const char *what) {
    puts_(what);
    puts_(": iar ");
    puthex(C(0x0c));
    puts_("\n");
}

void main(void) {
    D(0x000) = 3;
    C(0x000) = 1;
    C(0x004) = 0xff;
    REG8(0x08000400 + 3) = 0xa0;
    REG8(0x08000400 + 5) = 0x40;
    REG8(0x08000400 + 27) = 0x80;
    REG8(0x08000400 + 40) = 0x60;
    show("reset");
    iar("nothing pending");
    D(0xf00) = (2u << 24) | 3; /* SGI 3 to this CPU */
    show("sgi 3");
    iar("ack sgi 3");
    show("sgi 3 active");
    D(0xf00) = (1u << 16) | 5; /* SGI 5 to CPU 0 by list */
    D(0xf00) = (1u << 24) | 6; /* SGI 6 to the others: none */
    show("sgi 5 pending");
    iar("ack sgi 5 (preempts)");
    show("sgi 3 and 5 active");
    C(0x010) = 5;
    show("eoi 5");
    C(0x010) = 3;
    show("eoi 3");
    C(0x010) = 1023;
    show("eoi spurious");

    /* The virtual timer's PPI, level-sensitive: asserted at once with CVAL 0. */
    __asm__ volatile("msr cntv_cval_el0, xzr");
    __asm__ volatile("msr cntv_ctl_el0, %0" ::"r"(1UL));
    show("timer line high, 27 disabled");
    D(0x100) = 1u << 27;
    show("27 enabled");
    iar("ack 27");
    show("27 active");
    __asm__ volatile("msr cntv_ctl_el0, %0" ::"r"(3UL)); /* IMASK: line low */
    show("27 line low");
    C(0x010) = 27;
    show("eoi 27");
    __asm__ volatile("msr cntv_ctl_el0, %0" ::"r"(1UL)); /* line high again */
    show("27 line high again");
    __asm__ volatile("msr cntv_ctl_el0, %0" ::"r"(3UL));
    show("27 line low again (latched?)");
    iar("ack latched 27");
    C(0x010) = 27;
    show("eoi 27 again");

    /* SPI 40 by ISPENDR, cleared by ICPENDR; then taken with EOImode split. */
    D(0x104) = 1u << 8;
    D(0x204) = 1u << 8;
    show("spi 40 set pending");
    D(0x284) = 1u << 8;
    show("spi 40 cleared");
    D(0x204) = 1u << 8;
    C(0x000) = 1 | (1u << 9);
    iar("ack 40 (split eoi)");
    C(0x010) = 40;
    show("eoi 40: priority dropped, still active");
    C(0x1000) = 40;
    show("dir 40: deactivated");

    /* Group 1 without AckCtl. */
    C(0x000) = 3;
    D(0x084) = 1u << 8;
    D(0x204) = 1u << 8;
    show("spi 40 group 1");
    iar("group 1, no AckCtl");
    C(0x000) = 3 | 4;
    show("AckCtl");
    iar("group 1 with AckCtl");
    show("40 active in group 1");
    C(0x010) = 40;
    show("eoi 40 group 1");

    /* Priority mask and binary point. */
    C(0x000) = 1;
    D(0x084) = 0;
    C(0x004) = 0x60;
    D(0x204) = 1u << 8;
    show("pmr 0x60 masks prio 0x60");
    C(0x004) = 0x70;
    C(0x008) = 7;
    show("pmr 0x70, bpr 7");
    iar("ack 40");
    show("40 active, bpr 7");
    D(0x380) = 0xffffffff;
    D(0x384) = 0xffffffff;
    show("icactiver all");
    C(0x010) = 40;
    show("eoi 40 after icactiver");

    register uint64_t x0 __asm__("x0") = 0x84000008UL;
    __asm__ volatile("hvc #0" : "+r"(x0)::"memory");
}
