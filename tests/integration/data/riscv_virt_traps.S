/* Reset and trap entry for riscv_virt_traps.c: the trap entry passes the saved ra. */
    .section .text.start
    .globl _start
_start:
    la   sp, __stack_top
    la   t0, trap_entry
    csrw mtvec, t0
    call main
1:  j 1b

    .text
    .align 4
trap_entry:
    addi sp, sp, -32
    sd   ra, 0(sp)
    sd   a0, 8(sp)
    sd   a1, 16(sp)
    mv   a0, sp
    call on_trap
    ld   ra, 0(sp)
    ld   a0, 8(sp)
    ld   a1, 16(sp)
    addi sp, sp, 32
    mret
