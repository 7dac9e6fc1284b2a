/* Prints a line, then jumps to an instruction no decoder knows, at the start of a block:
 * the CPU raises SIGILL there (RISC-V's custom-0 opcode, x86's 0f 04). */
#include <stdio.h>

int main(void) {
    puts("before the undecodable instruction");
    fflush(stdout);
#if defined(__riscv)
    __asm__ volatile("j 1f\n1: .word 0x0000000b");
#elif defined(__x86_64__)
    __asm__ volatile("jmp 1f\n1: .byte 0x0f, 0x04");
#endif
    puts("after");
    return 0;
}
