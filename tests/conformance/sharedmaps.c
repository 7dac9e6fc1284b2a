/* Shared writable file mappings: stores reach the file (pread sees them at once, the disk by
   msync/munmap/exit), write() and ftruncate show through the mapping, SIGBUS past the end. */
#include "conf.h"
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#define PAGE 4096
static sigjmp_buf back;
static void on_bus(int sig) { siglongjmp(back, sig); }

/* The byte at p, or -SIGNAL when reading it raises one. */
static int peek(volatile char *p) {
    int sig = sigsetjmp(back, 1);
    if (sig) return -sig;
    return *p & 0xff;
}

static int poke(volatile char *p, char v) {
    int sig = sigsetjmp(back, 1);
    if (sig) return -sig;
    *p = v;
    return 0;
}

static void show_file(int fd, long at, int n) {
    char buf[64] = {0};
    long got = pread(fd, buf, n, at);
    SAY("pread(%ld, %d) = %ld [", at, n, got);
    for (long i = 0; i < got; i++) SAY("%c", buf[i] >= 32 && buf[i] < 127 ? buf[i] : '.');
    SAY("]\n");
}

int main(void) {
    signal(SIGBUS, on_bus);
    char block[10000];
    for (int i = 0; i < (int)sizeof block; i++) block[i] = 'a' + i % 26;
    put("data", "");
    int fd = T(open("data", O_RDWR));
    T(write(fd, block, sizeof block));
    /* Five pages over a file of two and a half: pages 3 and 4 lie past its end. */
    char *m = mmap(NULL, 5 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    SAY("mmap shared writable: %s\n", m == MAP_FAILED ? strerrorname_np(errno) : "ok");
    if (m == MAP_FAILED) return 1;
    SAY("m[0]=%c m[9999]=%c m[10000]=%d m[12287]=%d m[12288]=%d\n", m[0], m[9999],
        peek(m + 10000), peek(m + 12287), peek(m + 12288));
    memcpy(m + 10, "STORED", 6);
    memcpy(m + 5000, "SECOND-PAGE", 11);
    show_file(fd, 8, 10);
    show_file(fd, 4998, 15);
    /* A write() to the file shows through the mapping at once. */
    T(pwrite(fd, "WRITTEN", 7, 100));
    SAY("m[100..107]=%.7s\n", m + 100);
    T(lseek(fd, 200, SEEK_SET));
    T(write(fd, "VIA-WRITE", 9));
    SAY("m[200..209]=%.9s\n", m + 200);
    /* Stores past the end of the file in its last page never reach it. */
    m[10001] = 'X';
    T(msync(m, 3 * PAGE, MS_SYNC));
    struct stat st;
    T(fstat(fd, &st));
    SAY("size after msync %ld\n", (long)st.st_size);
    /* Growing the file makes the pages past its old end readable, zeros. */
    T(ftruncate(fd, 4 * PAGE + 100));
    SAY("after growing: m[12288]=%d m[16383]=%d m[16484]=%d m[20479]=%d\n", peek(m + 12288),
        peek(m + 16383), peek(m + 16484), peek(m + 20479));
    T(poke(m + 16400, 'G'));
    show_file(fd, 16398, 4);
    /* Shrinking it: the pages past the new end raise SIGBUS, the tail of the last one reads 0. */
    T(ftruncate(fd, PAGE + 10));
    SAY("after shrinking: m[4105]=%d m[4106]=%d m[8191]=%d m[8192]=%d poke=%d\n",
        peek(m + 4105), peek(m + 4106), peek(m + 8191), peek(m + 8192), poke(m + 8192, 'Z'));
    T(ftruncate(fd, 3 * PAGE));
    SAY("grown again: m[5000]=%d m[8192]=%d\n", peek(m + 5000), peek(m + 8192));
    memcpy(m + 9000, "THIRD", 5);
    /* A write past the end grows the file: the pages up to it read as it now is. */
    T(pwrite(fd, "EXTEND", 6, 4 * PAGE));
    SAY("extended: m[12288]=%d m[16384]=%c m[16390]=%d\n", peek(m + 3 * PAGE), m[4 * PAGE],
        peek(m + 4 * PAGE + 6));
    /* munmap writes the pages back; the file descriptor is closed first. */
    T(close(fd));
    T(munmap(m + PAGE, PAGE));
    T(munmap(m, 5 * PAGE));
    fd = T(open("data", O_RDONLY));
    show_file(fd, 8, 10);
    show_file(fd, 8998, 9);
    T(close(fd));
    /* mremap moves a shared mapping with its file; exit writes the last stores back. */
    fd = T(open("data", O_RDWR));
    char *a = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    SAY("second mmap: %s\n", a == MAP_FAILED ? strerrorname_np(errno) : "ok");
    if (a == MAP_FAILED) return 1;
    memcpy(a + 50, "BEFORE-MREMAP", 13);
    char *b = mremap(a, PAGE, 3 * PAGE, MREMAP_MAYMOVE);
    SAY("mremap: %s, kept %.13s\n", b == MAP_FAILED ? strerrorname_np(errno) : "ok", b + 50);
    SAY("its new pages show the file: %.5s\n", b + 9000);
    memcpy(b + 2 * PAGE + 1, "AFTER-MREMAP", 12);
    show_file(fd, 2 * PAGE, 14);
    /* A private mapping of the same file sees what the shared one wrote back. */
    char *p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    SAY("private sees %.13s\n", p + 50);
    T(munmap(b, 3 * PAGE));
    /* A read-only descriptor cannot back a shared writable mapping, nor become one by
       mprotect; its read-only shared mapping shows what is written through another. */
    int ro = T(open("data", O_RDONLY));
    SAY("mmap of O_RDONLY: %s\n",
        mmap(NULL, PAGE, PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED ? strerrorname_np(errno)
                                                                     : "ok");
    char *r = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, ro, PAGE);
    SAY("read-only shared mmap: %s\n", r == MAP_FAILED ? strerrorname_np(errno) : "ok");
    T(mprotect(r, PAGE, PROT_READ | PROT_WRITE));
    T(pwrite(fd, "SEEN-BY-READERS", 15, PAGE + 20));
    SAY("read-only mapping shows %.15s\n", r + 20);
    /* A shared mapping made writable by mprotect writes back too. */
    char *w = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
    T(mprotect(w, PAGE, PROT_READ | PROT_WRITE));
    memcpy(w + 3500, "MPROTECTED", 10);
    T(ftruncate(fd, PAGE + 7));
    show_file(fd, 3498, 14);
    SAY("truncated: r[6]=%d r[7]=%d r[4096]=%d\n", peek(r + 6), peek(r + 7), peek(r + PAGE));
    memcpy(w + 3000, "AT-EXIT", 7);
    _exit(0);
}
