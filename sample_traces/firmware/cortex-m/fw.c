/* Interrupt-driven firmware for the Stellaris lm3s6965evb / lm3s811evb boards (Cortex-M3).
 *
 * SysTick counts ticks; the UART0 receive interrupt moves bytes into a ring; the main loop
 * sleeps in wfi and echoes what arrived. Input 'q' prints a summary and resets the board
 * through AIRCR.SYSRESETREQ (QEMU's -no-reboot then exits, and so does a ttdbg recording).
 * The line starting "ticks" depends on timing; every other line depends only on the input.
 */
#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))

/* Stellaris UART0 (a PL011). */
#define UART0_DR REG(0x4000C000)
#define UART0_FR REG(0x4000C018)
#define UART0_LCRH REG(0x4000C02C)
#define UART0_IM REG(0x4000C038)
#define UART0_ICR REG(0x4000C044)
#define FR_RXFE (1u << 4)
#define FR_TXFF (1u << 5)
#define LCRH_WLEN8 (3u << 5)
#define INT_RX (1u << 4)
#define INT_RT (1u << 6)

/* System control space. */
#define SYST_CSR REG(0xE000E010)
#define SYST_RVR REG(0xE000E014)
#define SYST_CVR REG(0xE000E018)
#define NVIC_ISER0 REG(0xE000E100)
#define NVIC_IPR_BYTE(n) (*(volatile uint8_t *)(0xE000E400 + (n)))
#define SCB_AIRCR REG(0xE000ED0C)
#define SCB_SHPR3 REG(0xE000ED20)
#define SCB_CFSR REG(0xE000ED28)
#define SCB_HFSR REG(0xE000ED2C)

#define UART0_IRQ 5
#define RING 64u
#define TICK_CYCLES 125000u /* 10 ms of the 12.5 MHz clock these boards run at from reset */

volatile uint32_t ticks;    /* written by the SysTick handler */
volatile uint32_t rx_count; /* written by the UART handler */
volatile uint8_t last_rx;   /* the byte the UART handler took last */
static volatile uint8_t ring[RING];
static volatile uint32_t ring_head; /* written by the UART handler */
static volatile uint32_t ring_tail; /* written by the main loop */
static uint32_t checksum = 0x1234u; /* in .data: the start-up code copies it from flash */
volatile uint32_t background_sum;   /* the main loop's work between interrupts */

static void put(char c)
{
    while (UART0_FR & FR_TXFF) {
    }
    UART0_DR = (uint8_t)c;
}

static void put_str(const char *s)
{
    while (*s) {
        put(*s++);
    }
}

static void put_hex(uint32_t v, int digits)
{
    for (int i = digits - 1; i >= 0; i--) {
        put("0123456789abcdef"[(v >> (4 * i)) & 0xfu]);
    }
}

static void put_dec(uint32_t v)
{
    char buf[10];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n) {
        put(buf[--n]);
    }
}

void systick_handler(void)
{
    ticks++;
}

void uart0_handler(void)
{
    /* Take bytes only while the ring has room; when it is full, mask the receive interrupt
     * and leave the rest in the UART's FIFO (the sender waits) until the main loop drains. */
    while (!(UART0_FR & FR_RXFE)) {
        if (ring_head - ring_tail >= RING) {
            UART0_IM = 0;
            return;
        }
        uint8_t c = (uint8_t)UART0_DR;
        last_rx = c;
        rx_count++;
        ring[ring_head % RING] = c;
        ring_head++;
    }
    UART0_ICR = INT_RX | INT_RT;
}

void other_handler(void)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    put_str("fw: unexpected exception ");
    put_dec(ipsr);
    put('\n');
    SCB_AIRCR = (0x05FAu << 16) | (1u << 2);
    for (;;) {
    }
}

/* svc and an undefined instruction ('s' and 'u' on the serial line): the handlers report
 * the exception, the svc's immediate or the fault status, from the stacked frame. */
void svc_report(uint32_t *frame)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    put_str("svc: exception ");
    put_dec(ipsr);
    put_str(" imm ");
    put_dec(*(const uint8_t *)(frame[6] - 2)); /* svc #imm: the byte before the return */
    put('\n');
}

void fault_report(uint32_t *frame)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    put_str("fault: exception ");
    put_dec(ipsr);
    put_str(" hfsr 0x");
    put_hex(SCB_HFSR, 8);
    put_str(" cfsr 0x");
    put_hex(SCB_CFSR, 8);
    put_str(" pc 0x");
    put_hex(frame[6], 8);
    put('\n');
    SCB_HFSR = SCB_HFSR; /* write one to clear */
    SCB_CFSR = SCB_CFSR;
    frame[6] += 2; /* past the 16-bit udf */
}

__attribute__((naked)) void svc_handler(void)
{
    __asm__ volatile("mrs r0, msp\n b svc_report\n");
}

__attribute__((naked)) void fault_handler(void)
{
    __asm__ volatile("mrs r0, msp\n b fault_report\n");
}

static void reset_board(void)
{
    __asm__ volatile("dsb" ::: "memory");
    SCB_AIRCR = (0x05FAu << 16) | (1u << 2); /* VECTKEY | SYSRESETREQ */
    __asm__ volatile("dsb" ::: "memory");
    for (;;) {
    }
}

/* Work the main loop does while it waits for input: a checksum over the first 2 KiB of flash
 * (some 10,000 instructions), so a recording is not all interrupts and sleep. */
static void background(void)
{
    uint32_t sum = 0;
    for (const volatile uint8_t *p = (const uint8_t *)0; p < (const uint8_t *)2048; p++) {
        sum = (sum << 1 | sum >> 31) ^ *p;
    }
    background_sum = sum;
}

static void echo(uint32_t n, uint8_t c)
{
    checksum = checksum * 31u + c;
    put_str("rx ");
    put_dec(n);
    put_str(" 0x");
    put_hex(c, 2);
    if (c >= 0x20 && c < 0x7f) {
        put_str(" '");
        put((char)c);
        put('\'');
    }
    put('\n');
}

int main(void)
{
    /* The receive FIFO stays disabled (one byte deep): a PL011 drops what it holds when
     * LCRH.FEN changes, and input may arrive from the first instruction on. The sender
     * waits while the byte is not taken, so nothing is lost either way. */
    UART0_LCRH = LCRH_WLEN8;
    put_str("fw: lm3s boot, checksum seed 0x");
    put_hex(checksum, 4);
    put('\n');

    SCB_SHPR3 = (0xE0u << 24); /* SysTick at the lowest priority */
    NVIC_IPR_BYTE(UART0_IRQ) = 0x40;
    SYST_RVR = TICK_CYCLES - 1;
    SYST_CVR = 0;
    SYST_CSR = 7; /* processor clock, interrupt, enable */
    while (ticks < 2) {
        __asm__ volatile("wfi");
    }
    put_str("fw: systick running\n");

    UART0_IM = INT_RX | INT_RT;
    NVIC_ISER0 = 1u << UART0_IRQ;
    put_str("fw: send bytes, q ends\n");

    uint32_t n = 0;
    for (;;) {
        while (ring_tail == ring_head) {
            background();
            __asm__ volatile("wfi");
        }
        /* A critical section: the receive interrupt waits until cpsie. */
        __asm__ volatile("cpsid i" ::: "memory");
        uint8_t c = ring[ring_tail % RING];
        ring_tail++;
        UART0_IM = INT_RX | INT_RT; /* room again: take input (a no-op unless it was full) */
        __asm__ volatile("cpsie i" ::: "memory");
        echo(++n, c);
        if (c == 's') {
            __asm__ volatile("svc #5" ::: "memory");
        } else if (c == 'u') {
            __asm__ volatile("udf #7" ::: "memory");
        }
        if (c == 'q') {
            break;
        }
    }
    put_str("fw: bye rx=");
    put_dec(rx_count);
    put_str(" sum=0x");
    put_hex(checksum, 8);
    put('\n');
    put_str("ticks ");
    put_dec(ticks);
    put('\n');
    reset_board();
    return 0;
}

/* Start-up: .data from flash, .bss zeroed, then main. */
extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;

void reset_handler(void)
{
    uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0;
    }
    main();
    reset_board();
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16 + 8])(void) = {
    (void (*)(void))&_estack,
    reset_handler,
    other_handler, /* NMI */
    fault_handler, /* HardFault */
    other_handler, /* MemManage */
    other_handler, /* BusFault */
    fault_handler, /* UsageFault */
    0, 0, 0, 0,
    svc_handler,   /* SVCall */
    other_handler, /* DebugMonitor */
    0,
    other_handler, /* PendSV */
    systick_handler,
    other_handler, other_handler, other_handler, other_handler, other_handler, /* IRQ 0-4 */
    uart0_handler,                                                              /* IRQ 5 */
    other_handler, other_handler,                                               /* IRQ 6-7 */
};
