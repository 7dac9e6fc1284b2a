/* Stores 16-byte registers whole (SSE movdqu/movaps, AArch64 str/stp of q registers), for the
 * index's test of wide stores. */
static unsigned char src[64] __attribute__((aligned(16)));
unsigned char dst[64] __attribute__((aligned(16)));

int main(void) {
    for (int i = 0; i < 64; i++) src[i] = (unsigned char)(i * 7 + 1);
#if defined(__x86_64__)
    __asm__ volatile("movdqu (%1), %%xmm0\n\tmovdqu %%xmm0, (%0)\n\t"
                     "movaps 16(%1), %%xmm1\n\tmovaps %%xmm1, 16(%0)"
                     :
                     : "r"(dst), "r"(src)
                     : "xmm0", "xmm1", "memory");
#elif defined(__aarch64__)
    __asm__ volatile("ldr q0, [%1]\n\tstr q0, [%0]\n\t"
                     "ldp q1, q2, [%1, #16]\n\tstp q1, q2, [%0, #16]"
                     :
                     : "r"(dst), "r"(src)
                     : "v0", "v1", "v2", "memory");
#endif
    return dst[5] == src[5] && dst[31] == src[31] ? 0 : 1;
}
