/* Bytes that start no instruction, between instructions that do: x/i must show them as gdb
   does and go on after them (tests/tui/test_examine.py). Assembled, never run. */
#if defined(__x86_64__)
__asm__(
    ".globl _start\n"
    "_start:\n"
    /* invalid one-byte opcodes in 64-bit mode, with and without prefixes */
    ".byte 0x06, 0x90, 0x07, 0x90, 0x0e, 0x90, 0x1e, 0x90, 0x27, 0x90, 0x37, 0x90, 0x60, 0x90\n"
    ".byte 0xd6, 0x90, 0x9a, 0x90, 0xea, 0x90, 0x66, 0x06, 0x90, 0x2e, 0x07, 0x90\n"
    /* invalid two- and three-byte opcodes */
    ".byte 0x0f, 0x04, 0x90, 0x0f, 0x0a, 0x90, 0x0f, 0x24, 0x90, 0xf3, 0x0f, 0x0a, 0x90\n"
    ".byte 0x0f, 0x38, 0xff, 0x90, 0x0f, 0x3a, 0xff, 0x90\n"
    "ret\n .fill 32, 1, 0x90\n");
#elif defined(__aarch64__)
__asm__(
    ".globl _start\n"
    "_start:\n"
    ".inst 0xffffffff\n nop\n .inst 0x00000000\n .inst 0x0000ffff\n .inst 0xe7ffdeff\n"
    ".inst 0x80000000\n ret\n");
#elif defined(__riscv)
__asm__(
    ".globl _start\n"
    "_start:\n"
    /* lengths by the low bits: 16-bit, 32-bit (custom-0), 48-bit, 64-bit, 80-bit, reserved */
    ".2byte 0x0000\n nop\n .2byte 0xffff\n nop\n .4byte 0x0000000b\n .2byte 0xffff\n"
    ".2byte 0x001f, 0x1234, 0x5678\n .2byte 0x003f, 0, 0, 0\n .2byte 0x007f, 0, 0, 0, 0\n"
    "ret\n");
#endif
