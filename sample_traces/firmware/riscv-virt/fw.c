/* Interrupt-driven sample firmware for QEMU's riscv64 virt machine (M-mode, -bios none):
 * a CLINT timer tick counter and a line echo fed by the NS16550A's receive interrupt
 * through the PLIC. "quit" prints the tick count and ends through the sifive_test finisher;
 * "ecall", "ebreak" and "illegal" raise those exceptions, which the trap handler reports. */
#include <stdint.h>

#define UART ((volatile uint8_t *)0x10000000UL)
#define UART_RBR 0
#define UART_THR 0
#define UART_IER 1
#define UART_LSR 5
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define UART_IRQ 10

#define PLIC_PRIORITY(src) (*(volatile uint32_t *)(0x0c000000UL + 4 * (src)))
#define PLIC_ENABLE0 (*(volatile uint32_t *)0x0c002000UL)
#define PLIC_THRESHOLD0 (*(volatile uint32_t *)0x0c200000UL)
#define PLIC_CLAIM0 (*(volatile uint32_t *)0x0c200004UL)

#define CLINT_MTIMECMP (*(volatile uint64_t *)0x02004000UL)
#define CLINT_MTIME (*(volatile uint64_t *)0x0200bff8UL)
#define TICK 100000 /* 10 ms of the 10 MHz timebase */

#define FINISHER (*(volatile uint32_t *)0x00100000UL)

volatile uint64_t ticks;       /* written by the timer interrupt */
volatile uint32_t rx_head;     /* written by the UART interrupt */
volatile char rx_ring[256];    /* written by the UART interrupt */
static volatile uint32_t rx_tail;

static void putc_(char c) {
    while (!(UART[UART_LSR] & LSR_THRE)) {
    }
    UART[UART_THR] = (uint8_t)c;
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

static void on_timer(void) {
    ticks = ticks + 1;
    CLINT_MTIMECMP = CLINT_MTIMECMP + TICK;
}

static void on_uart(void) {
    while (UART[UART_LSR] & LSR_DR) {
        if (rx_head - rx_tail == sizeof rx_ring) {
            UART[UART_IER] = 0; /* ring full: leave the rest in the FIFO until main catches up */
            return;
        }
        rx_ring[rx_head % sizeof rx_ring] = (char)UART[UART_RBR];
        rx_head = rx_head + 1;
    }
}

static void puthex(uint64_t v) {
    puts_("0x");
    for (int shift = 60; shift >= 0; shift -= 4) putc_("0123456789abcdef"[(v >> shift) & 15]);
}

/* A synchronous exception (ecall, ebreak, illegal instruction): report it and go on after
 * the instruction that raised it. */
static void on_exception(uint64_t cause) {
    uint64_t epc, tval;
    __asm__ volatile("csrr %0, mepc" : "=r"(epc));
    __asm__ volatile("csrr %0, mtval" : "=r"(tval));
    puts_("trap: mcause ");
    putu(cause);
    puts_(" mepc ");
    puthex(epc);
    puts_(" mtval ");
    puthex(tval);
    puts_("\n");
    epc += (*(volatile uint16_t *)epc & 3) == 3 ? 4 : 2;
    __asm__ volatile("csrw mepc, %0" ::"r"(epc));
}

void trap_handler(uint64_t cause) {
    if (cause == ((1UL << 63) | 7)) {
        on_timer();
    } else if (cause == ((1UL << 63) | 11)) {
        uint32_t src = PLIC_CLAIM0;
        if (src == UART_IRQ) on_uart();
        PLIC_CLAIM0 = src;
    } else if (cause == 2 || cause == 3 || cause == 11) {
        on_exception(cause);
    } else {
        puts_("unexpected trap ");
        putu(cause);
        puts_("\n");
        FINISHER = 0x3333 | (1 << 16);
    }
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

    UART[UART_IER] = 0x01; /* receive data available */
    PLIC_PRIORITY(UART_IRQ) = 1;
    PLIC_THRESHOLD0 = 0;
    PLIC_ENABLE0 = 1u << UART_IRQ;
    CLINT_MTIMECMP = CLINT_MTIME + TICK;
    __asm__ volatile("csrw mie, %0" ::"r"((1UL << 7) | (1UL << 11)));
    __asm__ volatile("csrs mstatus, %0" ::"r"(1UL << 3));
    puts_("fw: ready\n");

    for (;;) {
        while (rx_tail == rx_head) __asm__ volatile("wfi");
        char c = rx_ring[rx_tail % sizeof rx_ring];
        rx_tail = rx_tail + 1;
        UART[UART_IER] = 0x01; /* room in the ring again */
        if (c == '\r') c = '\n';
        if (c != '\n') {
            if (len < sizeof line) line[len++] = c;
            continue;
        }
        if (line_is(line, len, "quit")) break;
        if (line_is(line, len, "ecall")) __asm__ volatile("ecall");
        if (line_is(line, len, "ebreak")) __asm__ volatile(".4byte 0x00100073"); /* ebreak */
        if (line_is(line, len, "illegal")) __asm__ volatile(".4byte 0x7c002573"); /* csrr a0, 0x7c0: no such CSR */
        puts_("echo: ");
        for (uint32_t i = 0; i < len; i++) putc_(line[i]);
        puts_("\n");
        len = 0;
    }
    __asm__ volatile("csrc mstatus, %0" ::"r"(1UL << 3));
    puts_("ticks: ");
    putu(ticks);
    puts_("\nfw: bye\n");
    FINISHER = 0x5555;
    for (;;) {
    }
}
