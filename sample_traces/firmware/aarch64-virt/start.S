/* Reset entry and exception vectors for the aarch64-virt sample (EL1, loaded at 0x40000000). */
    .section .text.start
    .globl _start
_start:
    ldr  x0, =__stack_top
    mov  sp, x0
    ldr  x0, =__bss_start
    ldr  x1, =__bss_end
1:  cmp  x0, x1
    b.hs 2f
    str  xzr, [x0], #8
    b    1b
2:  ldr  x0, =vectors
    msr  vbar_el1, x0
    isb
    bl   main
3:  b    3b

/* One entry per 0x80 bytes; the table is 2 KiB aligned. IRQs come from the current EL with
 * SP_EL1 (offset 0x280); anything else is reported by `unexpected`. */
    .macro save_and_call handler, kind
    sub  sp, sp, #192
    stp  x0, x1, [sp, #0]
    stp  x2, x3, [sp, #16]
    stp  x4, x5, [sp, #32]
    stp  x6, x7, [sp, #48]
    stp  x8, x9, [sp, #64]
    stp  x10, x11, [sp, #80]
    stp  x12, x13, [sp, #96]
    stp  x14, x15, [sp, #112]
    stp  x16, x17, [sp, #128]
    stp  x18, x30, [sp, #144]
    mov  x0, #\kind
    bl   \handler
    ldp  x0, x1, [sp, #0]
    ldp  x2, x3, [sp, #16]
    ldp  x4, x5, [sp, #32]
    ldp  x6, x7, [sp, #48]
    ldp  x8, x9, [sp, #64]
    ldp  x10, x11, [sp, #80]
    ldp  x12, x13, [sp, #96]
    ldp  x14, x15, [sp, #112]
    ldp  x16, x17, [sp, #128]
    ldp  x18, x30, [sp, #144]
    add  sp, sp, #192
    eret
    .endm

    .text
    .balign 2048
vectors:
    .set k, 0
    .rept 16
    .balign 128
    .if k == 5
    save_and_call irq_handler, k
    .else
    save_and_call unexpected, k
    .endif
    .set k, k + 1
    .endr
