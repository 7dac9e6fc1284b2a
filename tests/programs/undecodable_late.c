/* Prints a line, then runs a few instructions and, in the same block, one no decoder knows
 * (RISC-V's custom-0 opcode, x86's 0f 04): the emulator counts it in the block, capstone
 * cannot decode it, and the CPU raises SIGILL there. */
#include <stdio.h>

int main(void) {
    puts("before the undecodable instruction");
    fflush(stdout);
#if defined(__riscv)
    __asm__ volatile("j 1f\n1: addi t0, t0, 1\n addi t1, t1, 2\n .word 0x0000000b" ::: "t0", "t1");
#elif defined(__x86_64__)
    __asm__ volatile("jmp 1f\n1: nop\n add $1, %%rbx\n add $2, %%rcx\n .byte 0x0f, 0x04" ::: "rbx", "rcx");
#endif
    puts("after");
    return 0;
}
