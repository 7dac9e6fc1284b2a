/* A -nostdlib guest that ends on int3 (SIGTRAP): a trap retires its instruction. */
void _start(void){ __asm__ volatile("nop; nop; nop; int3; nop"); for(;;){} }
