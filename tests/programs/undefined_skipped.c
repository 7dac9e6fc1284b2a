/* A jump over ud0 and ud1 with ModRM operands (GNU decodes them so, capstone ends them after
   the opcode), then exit: the disassembly pane must list what follows at gdb's addresses
   (tests/tui/test_examine.py). */
#if defined(__x86_64__)
__asm__(
    ".globl _start\n"
    "_start:\n"
    "jmp 1f\n"
    ".byte 0x0f, 0xff, 0x40, 0x08, 0x0f, 0xb9, 0xc0, 0xf3, 0x0f, 0xff, 0xc0\n"
    ".byte 0x4d, 0x0f, 0xff, 0x84, 0x8f, 0x44, 0x33, 0x22, 0x11\n"
    "1: mov $60, %eax\n"
    "xor %edi, %edi\n"
    "syscall\n");
#endif
