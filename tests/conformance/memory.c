/* Memory: mmap, mprotect, mremap, munmap, madvise, brk through malloc. */
#include "conf.h"
#include <sys/mman.h>

int main(void) {
    size_t page = 4096;
    char *m = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    T(m != MAP_FAILED);
    memset(m, 'a', 4 * page);
    T(madvise(m, page, MADV_DONTNEED));
    SAY("after MADV_DONTNEED: first byte %d, next page %c\n", m[0], m[page]);
    T(madvise(m, page, MADV_WILLNEED));
    T(madvise(m + 1, page, MADV_NORMAL));
    T(madvise(m + page, page, MADV_REMOVE));  /* a private mapping: EINVAL */
    T(madvise(m, page, 12345));
    T(mprotect(m, page, PROT_READ));
    T(msync(m, page, MS_SYNC));
    T(mlock(m, page));
    T(munlock(m, page));
    T(mprotect(m, page, PROT_READ | PROT_WRITE));
    char *r = mremap(m, 4 * page, 8 * page, MREMAP_MAYMOVE);
    T(r != MAP_FAILED);
    SAY("kept across mremap: %c\n", r[3 * page]);
    T(munmap(r, 8 * page));
    T(munmap(r, page));
    T(madvise(r, page, MADV_WILLNEED));  /* nothing mapped there: ENOMEM */
    T(madvise(r, page, MADV_DONTNEED));
    T(mlock(r, page));
    T(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED);
    int fd = T(open("mapped", O_RDWR | O_CREAT | O_TRUNC, 0644));
    char text[2 * 4096];
    memset(text, 'F', sizeof text);
    T(write(fd, text, sizeof text));
    char *f = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    T(f != MAP_FAILED);
    f[0] = f[page] = 'x';
    T(madvise(f, 2 * page, MADV_DONTNEED));
    SAY("private file pages after MADV_DONTNEED: %c %c\n", f[0], f[page]);
    T(munmap(f, 3 * page));
    T(close(fd));
    char *big = malloc(1 << 20);
    T(big != NULL);
    memset(big, 7, 1 << 20);
    SAY("malloc'd byte %d\n", big[12345]);
    free(big);
    void *cur = sbrk(0);
    T(sbrk(65536) == cur);
    T(sbrk(0) == (char *)cur + 65536);
    return 0;
}
