/* Interrupt-driven sample firmware for QEMU's AArch64 virt machine (EL1, -kernel fw.elf):
 * a generic-timer tick counter (virtual timer, PPI 27) and a line echo fed by the PL011's
 * receive interrupt (SPI 1 = interrupt 33), both through the GICv2. "sum" prints a checksum
 * of the lines received so far; "quit" prints the tick count and powers off through PSCI.
 *
 * It has a bug to find with reverse debugging: the checksum of "sum" is sometimes wrong. */
#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))
#define UART 0x09000000UL
#define UART_DR REG32(UART + 0x000)
#define UART_FR REG32(UART + 0x018)
#define UART_IMSC REG32(UART + 0x038)
#define UART_ICR REG32(UART + 0x044)
#define FR_RXFE 0x10
#define FR_TXFF 0x20
#define INT_RX 0x10
#define UART_IRQ 33

#define GICD 0x08000000UL
#define GICC 0x08010000UL
#define GICD_CTLR REG32(GICD + 0x000)
#define GICD_ISENABLER(n) REG32(GICD + 0x100 + 4 * (n))
#define GICD_IPRIORITYR(n) (*(volatile uint8_t *)(uintptr_t)(GICD + 0x400 + (n)))
#define GICC_CTLR REG32(GICC + 0x00)
#define GICC_PMR REG32(GICC + 0x04)
#define GICC_IAR REG32(GICC + 0x0C)
#define GICC_EOIR REG32(GICC + 0x10)
#define TIMER_IRQ 27 /* the virtual timer's PPI */

#define PSCI_SYSTEM_OFF 0x84000008UL

volatile uint64_t ticks;       /* written by the timer interrupt */
volatile uint32_t rx_head;     /* written by the UART interrupt */
volatile char rx_ring[256];    /* written by the UART interrupt */
static volatile uint32_t rx_tail;
volatile uint32_t checksum;    /* updated by main and by the timer interrupt (the bug) */
static uint64_t period;

static void putc_(char c) {
    while (UART_FR & FR_TXFF) {
    }
    UART_DR = (uint32_t)c;
}

static void puts_(const char *s) {
    while (*s) putc_(*s++);
}

static void putu(uint64_t v) {
    char buf[24];
    int i = 0;
    do {
        buf[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i) putc_(buf[--i]);
}

static void psci_off(void) {
    register uint64_t x0 __asm__("x0") = PSCI_SYSTEM_OFF;
    __asm__ volatile("hvc #0" : "+r"(x0)::"memory");
}

static void on_timer(void) {
    ticks = ticks + 1;
    /* The bug: the tick handler folds the tick count into the checksum when the low byte of
     * the tick count is zero, so a long session gets a different sum. */
    if ((ticks & 0xff) == 0) checksum = checksum + 1;
    __asm__ volatile("msr cntv_tval_el0, %0" ::"r"(period));
}

static void on_uart(void) {
    while (!(UART_FR & FR_RXFE)) {
        if (rx_head - rx_tail == sizeof rx_ring) {
            UART_IMSC = 0; /* ring full: leave the rest in the FIFO until main catches up */
            return;
        }
        rx_ring[rx_head % sizeof rx_ring] = (char)UART_DR;
        rx_head = rx_head + 1;
    }
}

void irq_handler(uint64_t kind) {
    (void)kind;
    uint32_t iar = GICC_IAR;
    uint32_t irq = iar & 0x3ff;
    if (irq == TIMER_IRQ) {
        on_timer();
    } else if (irq == UART_IRQ) {
        on_uart();
    } else if (irq == 1023) {
        return; /* spurious */
    }
    GICC_EOIR = iar;
}

void unexpected(uint64_t kind) {
    uint64_t esr, elr;
    __asm__ volatile("mrs %0, esr_el1" : "=r"(esr));
    __asm__ volatile("mrs %0, elr_el1" : "=r"(elr));
    puts_("unexpected exception ");
    putu(kind);
    puts_(" esr ");
    putu(esr);
    puts_(" elr ");
    putu(elr);
    puts_("\n");
    psci_off();
}

/* Work with the timer running fast: the tick count it ends with depends only on instruction
 * counts, so it is the same on QEMU with -icount shift=3 and on ttdbg. */
static uint64_t busy(uint32_t n) {
    uint64_t x = 1;
    for (uint32_t i = 0; i < n; i++) x = x * 6364136223846793005UL + i;
    return x;
}

static int line_is(const char *line, uint32_t len, const char *word) {
    uint32_t i = 0;
    for (; i < len && word[i]; i++)
        if (line[i] != word[i]) return 0;
    return i == len && !word[i];
}

int main(void) {
    char line[128];
    uint32_t len = 0;
    uint64_t freq;

    GICD_IPRIORITYR(TIMER_IRQ) = 0x80;
    GICD_IPRIORITYR(UART_IRQ) = 0x80;
    GICD_ISENABLER(0) = 1u << TIMER_IRQ;
    GICD_ISENABLER(1) = 1u << (UART_IRQ - 32);
    GICD_CTLR = 1;
    GICC_PMR = 0xf0;
    GICC_CTLR = 1;
    UART_IMSC = INT_RX;

    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(freq));
    period = freq / 10000; /* 100 us while booting */
    __asm__ volatile("msr cntv_tval_el0, %0" ::"r"(period));
    __asm__ volatile("msr cntv_ctl_el0, %0" ::"r"(1UL));
    __asm__ volatile("msr daifclr, #2");
    uint64_t work = busy(100000);
    __asm__ volatile("msr daifset, #2");
    puts_("boot: work ");
    putu(work);
    puts_(", ticks ");
    putu(ticks);
    puts_("\n");
    period = freq / 100; /* 10 ms */
    __asm__ volatile("msr daifclr, #2");
    puts_("fw: ready\n");

    for (;;) {
        while (rx_tail == rx_head) __asm__ volatile("wfi");
        char c = rx_ring[rx_tail % sizeof rx_ring];
        rx_tail = rx_tail + 1;
        UART_IMSC = INT_RX; /* room in the ring again */
        if (c == '\r') c = '\n';
        if (c != '\n') {
            if (len < sizeof line) line[len++] = c;
            continue;
        }
        if (line_is(line, len, "quit")) break;
        if (line_is(line, len, "sum")) {
            puts_("sum: ");
            putu(checksum);
            puts_("\n");
        } else {
            for (uint32_t i = 0; i < len; i++) checksum = checksum * 31 + (uint8_t)line[i];
            puts_("echo: ");
            for (uint32_t i = 0; i < len; i++) putc_(line[i]);
            puts_("\n");
        }
        len = 0;
    }
    __asm__ volatile("msr daifset, #2");
    puts_("ticks: ");
    putu(ticks);
    puts_("\nfw: bye\n");
    psci_off();
    for (;;) {
    }
}
