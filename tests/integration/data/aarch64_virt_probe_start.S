    .section .text.start
    .globl _start
_start:
    ldr  x0, =__stack_top
    mov  sp, x0
    bl   main
1:  b    1b
