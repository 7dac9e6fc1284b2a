/* Prints a line, then __builtin_trap(): ud2 on x86-64, brk on AArch64, ebreak on RISC-V. */
#include <stdio.h>

int main(void) {
    puts("before the trap");
    fflush(stdout);
    __builtin_trap();
}
