/* Exception entry on QEMU's AArch64 virt: an FIQ (group 0 with FIQEn) taken at EL1h and an
 * IRQ taken at EL1t (SPSel 0), each handler printing which vector ran, SPSel, the stack
 * pointer it runs on, ELR/SPSR; main prints the stack pointers it sees after each eret. The
 * test compares the output with qemu-system-aarch64's. aarch64_virt_traps.c runs on these
 * vectors too (on_exception gets the vector's number and the saved x0/x30). */
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
    mov  x1, sp  /* the saved x0/x30, for handlers that want them */
    bl   on_exception
    ldp  x0, x30, [sp]
    add  sp, sp, #32
    eret
    .set k, k + 1
    .endr

    .globl get_sp
get_sp:
    mov  x0, sp
    ret

    .globl run_on_sp_el0
/* x0: the stack for SP_EL0, x1: a function to call there (at EL1t), then back to SP_EL1. */
run_on_sp_el0:
    stp  x29, x30, [sp, #-16]!
    msr  sp_el0, x0
    msr  spsel, #0
    blr  x1
    msr  spsel, #1
    ldp  x29, x30, [sp], #16
    ret
