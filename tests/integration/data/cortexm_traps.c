/* Synchronous faults on QEMU's lm3s boards, with the configurable faults disabled (so they
 * escalate to HardFault) and then enabled: a misaligned ldrex, ldrd or ldm (UsageFault
 * UNALIGNED), bkpt (DebugMonitor, never enabled: HardFault), fetches from execute-never regions
 * (MemManage IACCVIOL). The handler prints the exception, CFSR/HFSR and the stacked pc and
 * xPSR, and returns past the instruction (to the caller after a fetch fault); the test
 * compares the output with qemu-system-arm's. */
#include <stdint.h>
#define REG(a) (*(volatile uint32_t *)(a))
#define UART0_DR REG(0x4000C000)
#define UART0_FR REG(0x4000C018)
#define SHCSR REG(0xE000ED24)
#define CFSR REG(0xE000ED28)
#define HFSR REG(0xE000ED2C)
#define MMFAR REG(0xE000ED34)
#define BFAR REG(0xE000ED38)
#define AIRCR REG(0xE000ED0C)
extern uint32_t _estack;
static uint32_t buf[4];

static void putc_(char c) { while (UART0_FR & (1u << 5)) {} UART0_DR = (uint8_t)c; }
static void puts_(const char *s) { while (*s) putc_(*s++); }
static void puthex(uint32_t v) {
    puts_("0x");
    for (int i = 28; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 15]);
}
static void show(const char *name, uint32_t v) { puts_(name); puts_(" "); puthex(v); puts_("\n"); }

void on_fault(uint32_t *frame) {
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    uint32_t cfsr = CFSR, pc = frame[6];
    show("  exception", ipsr & 0x1ff);
    show("  cfsr", cfsr);
    show("  hfsr", HFSR);
    if (cfsr & (1u << 15)) show("  bfar", BFAR);
    if (cfsr & (1u << 7)) show("  mmfar", MMFAR);
    show("  pc", pc);
    show("  xpsr", frame[7]);
    CFSR = cfsr;
    HFSR = HFSR;
    if (cfsr & ((1u << 8) | (1u << 0))) frame[6] = frame[5] & ~1u; /* fetch: back to the caller */
    else frame[6] = pc + ((*(uint16_t *)pc & 0xe000) == 0xe000 && (*(uint16_t *)pc & 0x1800) ? 4 : 2);
}

__attribute__((naked)) void fault_entry(void) {
    __asm__ volatile("tst lr, #4\n ite eq\n mrseq r0, msp\n mrsne r0, psp\n b on_fault\n");
}

static void faults(void) {
    uint32_t v = 0;
    puts_("ldrex misaligned\n");
    __asm__ volatile("ldrex %0, [%1]" : "=r"(v) : "r"((uint8_t *)buf + 1) : "memory");
    puts_("ldrd misaligned\n");
    __asm__ volatile("ldrd %0, %1, [%2]" : "=r"(v), "=r"(v) : "r"((uint8_t *)buf + 2) : "memory");
    puts_("ldm misaligned\n");
    __asm__ volatile("ldm %0, {r2, r3}" :: "r"((uint8_t *)buf + 2) : "r2", "r3", "memory");
    puts_("bkpt\n");
    __asm__ volatile("bkpt #3" ::: "memory");
    puts_("jump into the peripheral region (execute never)\n");
    __asm__ volatile("blx %0" ::"r"(0x40010001u) : "lr", "memory");
    puts_("jump into the system region (execute never)\n");
    __asm__ volatile("blx %0" ::"r"(0xE0100001u) : "lr", "memory");
    puts_("jump into UART0 (execute never)\n");
    __asm__ volatile("blx %0" ::"r"(0x4000C001u) : "lr", "memory");
}

void reset_handler(void) {
    puts_("-- with the faults disabled (HardFault)\n");
    faults();
    puts_("-- with MemManage, BusFault and UsageFault enabled\n");
    SHCSR = 7u << 16;
    faults();
    AIRCR = 0x05FA0004; /* SYSRESETREQ */
    for (;;) {
    }
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))&_estack, reset_handler, fault_entry, fault_entry, fault_entry,
    fault_entry, fault_entry, 0, 0, 0, 0, fault_entry, fault_entry, 0, fault_entry, fault_entry};
