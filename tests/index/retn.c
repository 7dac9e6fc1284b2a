/* Calls into functions that return with `ret N` (releasing N bytes of stack arguments), for
 * the index's call/return matching on x86-64. */
#include <stdio.h>

long pops8(void);
long pushes_and_calls(long value);
__asm__(".text\n"
        ".globl pops8\n"
        ".type pops8, @function\n"
        "pops8:\n"
        "    mov 8(%rsp), %rax\n"
        "    add $1, %rax\n"
        "    ret $8\n"
        ".size pops8, . - pops8\n"
        ".globl pushes_and_calls\n"
        ".type pushes_and_calls, @function\n"
        "pushes_and_calls:\n"
        "    push %rdi\n"
        "    call pops8\n"
        "    ret\n"
        ".size pushes_and_calls, . - pushes_and_calls\n");

int main(void) {
    long total = 0;
    for (long i = 0; i < 5; i++) total += pushes_and_calls(i * 10);
    printf("%ld\n", total);
    return 0;
}
