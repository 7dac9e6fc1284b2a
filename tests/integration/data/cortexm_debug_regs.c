/* The fault-address and debug registers of the Cortex-M3 SCS: MMFAR and BFAR (read/write,
 * 0 at reset, no valid bit set in CFSR), DEMCR (0 at reset; TRCENA, MON_REQ and the
 * vector-catch bits read back as written, C1.6.5). The test compares the fault-address lines
 * with qemu-system-arm's and the DEMCR lines with the architecture's values (QEMU 7.2 makes
 * DEMCR RAZ/WI). */
#include <stdint.h>
#define REG(a) (*(volatile uint32_t *)(a))
#define UART0_DR REG(0x4000C000)
#define UART0_FR REG(0x4000C018)
#define CFSR REG(0xE000ED28)
#define MMFAR REG(0xE000ED34)
#define BFAR REG(0xE000ED38)
#define DEMCR REG(0xE000EDFC)
#define AIRCR REG(0xE000ED0C)
extern uint32_t _estack;

static void putc_(char c) { while (UART0_FR & (1u << 5)) {} UART0_DR = (uint8_t)c; }
static void puts_(const char *s) { while (*s) putc_(*s++); }
static void puthex(uint32_t v) {
    puts_("0x");
    for (int i = 28; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 15]);
}
static void show(const char *name, uint32_t v) { puts_(name); puts_(" "); puthex(v); puts_("\n"); }

void reset_handler(void) {
    show("mmfar", MMFAR);
    show("bfar", BFAR);
    MMFAR = 0x12345678;
    show("mmfar written", MMFAR);
    BFAR = 0x9abcdef0;
    show("bfar written", BFAR);
    show("mmfar after bfar", MMFAR);
    MMFAR = 0;
    show("mmfar cleared", MMFAR);
    show("cfsr", CFSR);
    show("demcr", DEMCR);
    DEMCR = 1u << 24;
    show("demcr trcena", DEMCR);
    DEMCR = 0xfef8f80e | (1u << 24) | (1u << 19) | 0x7f1; /* every kept bit, reserved bits */
    show("demcr kept bits", DEMCR);
    DEMCR = 0;
    show("demcr cleared", DEMCR);
    AIRCR = (0x05FAu << 16) | (1u << 2);
    for (;;) {
    }
}

__attribute__((section(".vectors"), used)) static void (*const vectors[2])(void) = {
    (void (*)(void))&_estack, reset_handler};
