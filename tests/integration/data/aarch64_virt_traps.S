/* Vectors for aarch64_virt_traps.c: each saves x0/x30 and calls on_exception with the
 * vector's number and that frame. */
    .section .text.start
    .globl _start
_start:
    ldr  x0, =__stack_top
    mov  sp, x0
    ldr  x0, =vectors
    msr  vbar_el1, x0
    isb
    bl   main
1:  b    1b

    .text
    .balign 2048
vectors:
    .set k, 0
    .rept 16
    .balign 128
    sub  sp, sp, #32
    stp  x0, x30, [sp]
    mov  x0, #k
    mov  x1, sp
    bl   on_exception
    ldp  x0, x30, [sp]
    add  sp, sp, #32
    eret
    .set k, k + 1
    .endr
