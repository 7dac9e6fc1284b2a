/* F_GETFL as Linux answers it: the flags open() consumed are gone, O_LARGEFILE is set on what
   open() made (qemu-user hides that bit, so only x86-64, checked natively, shows it), F_SETFL
   changes only the flags it may change. */
#include "conf.h"
#if defined(__x86_64__)
#define SHOWN (~0)
#elif defined(__aarch64__)
#define SHOWN (~0400000)
#else
#define SHOWN (~0100000)
#endif
#define FL(fd) T(fcntl(fd, F_GETFL) & SHOWN)

int main(void) {
    int r = T(open("/etc/hostname", O_RDONLY));
    int w = T(open("new.txt", O_RDWR | O_CREAT | O_EXCL | O_TRUNC | O_APPEND, 0600));
    int d = T(open(".", O_RDONLY | O_DIRECTORY));
    int p[2];
    T(pipe(p));
    FL(r);
    FL(w);
    FL(d);
    FL(p[0]);
    FL(p[1]);
    T(fcntl(w, F_SETFL, O_RDONLY | O_CREAT | O_NONBLOCK));
    FL(w);
    T(fcntl(d, F_SETFL, 0));
    FL(d);
    T(fcntl(w, F_SETFL, O_APPEND));
    T(write(w, "ab", 2));
    T(lseek(w, 0, SEEK_SET));
    T(write(w, "c", 1));
    T(lseek(w, 0, SEEK_CUR));
    return 0;
}
