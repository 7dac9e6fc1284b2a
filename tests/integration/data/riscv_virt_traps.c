/* Synchronous exceptions on QEMU's RISC-V virt (M-mode): access faults on loads, stores,
 * AMOs and fetches where nothing is mapped, misaligned atomics; then mip read with the timer
 * line up and down. The handler prints mcause/mepc/mtval and the mstatus bits traps change
 * (QEMU also shows SXL/UXL there, which Unicorn's mstatus lacks) and moves mepc on; the
 * test compares the output with qemu-system-riscv64's. */
#include <stdint.h>
#define REG8(a) (*(volatile uint8_t *)(uintptr_t)(a))
#define REG32(a) (*(volatile uint32_t *)(uintptr_t)(a))
#define CSRR(r) ({ uint64_t v; __asm__ volatile("csrr %0, " #r : "=r"(v)); v; })
#define CSRW(r, v) __asm__ volatile("csrw " #r ", %0" ::"r"((uint64_t)(v)))
#define NOWHERE 0x90000000UL /* past the 128 MiB of RAM */

static uint8_t buf[64] __attribute__((aligned(16)));
static void putc_(char c) { REG8(0x10000000) = (uint8_t)c; }
static void puts_(const char *s) { while (*s) putc_(*s++); }
static void puthex(uint64_t v) {
    puts_("0x");
    for (int i = 60; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 15]);
}
static void show(const char *name, uint64_t v) { puts_(name); puts_(" "); puthex(v); puts_("\n"); }

void on_trap(uint64_t *frame) {
    uint64_t cause = CSRR(mcause), epc = CSRR(mepc);
    show("  mcause", cause);
    show("  mepc", epc);
    show("  mtval", CSRR(mtval));
    show("  mstatus", CSRR(mstatus) & 0x1888); /* MPP, MPIE, MIE */
    if (cause == 1) CSRW(mepc, frame[0]);                 /* back to the caller */
    else CSRW(mepc, epc + ((*(uint16_t *)epc & 3) == 3 ? 4 : 2));
}

void main(void) {
    uint64_t v = 0;
    uint8_t *odd = buf + 2;
    puts_("load nowhere\n");
    __asm__ volatile("ld %0, 0(%1)" : "=r"(v) : "r"(NOWHERE) : "memory");
    puts_("store nowhere\n");
    __asm__ volatile("sw %0, 8(%1)" ::"r"(v), "r"(NOWHERE) : "memory");
    puts_("amoadd misaligned\n");
    __asm__ volatile("amoadd.w %0, %1, (%2)" : "=r"(v) : "r"(1), "r"(odd) : "memory");
    puts_("lr misaligned\n");
    __asm__ volatile("lr.d %0, (%1)" : "=r"(v) : "r"(odd) : "memory");
    puts_("sc misaligned\n");
    __asm__ volatile("sc.w %0, %1, (%2)" : "=r"(v) : "r"(v), "r"(odd) : "memory");
    puts_("amoswap to nowhere\n");
    __asm__ volatile("amoswap.w %0, %1, (%2)" : "=r"(v) : "r"(1), "r"(NOWHERE) : "memory");
    puts_("jump nowhere\n");
    __asm__ volatile("jalr ra, 0(%0)" ::"r"(NOWHERE) : "ra", "memory");
    puts_("mip with the timer pending\n");
    *(volatile uint64_t *)0x2004000 = 0; /* mtimecmp 0: MTIP */
    show("  mip", CSRR(mip));
    *(volatile uint64_t *)0x2004000 = ~0UL;
    show("  mip", CSRR(mip));
    REG32(0x100000) = 0x5555;
}
