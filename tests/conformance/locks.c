/* Locks: fcntl record locks (POSIX and OFD) and flock, as SQLite uses them. */
#include "conf.h"
#include <sys/file.h>

static void lock(int fd, int cmd, short type, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    char what[64];
    snprintf(what, sizeof what, "fcntl(%d, %d, type %d, %ld+%ld)", fd, cmd, type, (long)start,
             (long)len);
    conf_show(what, fcntl(fd, cmd, &fl));
    if (cmd == F_GETLK || cmd == F_OFD_GETLK)
        SAY("  -> type %d start %ld len %ld\n", fl.l_type, (long)fl.l_start, (long)fl.l_len);
}

int main(void) {
    put("db", "0123456789abcdef");
    int a = T(open("db", O_RDWR));
    int b = T(open("db", O_RDWR));
    lock(a, F_SETLK, F_WRLCK, 0, 4);
    lock(b, F_GETLK, F_WRLCK, 0, 4); /* our own POSIX lock: no conflict */
    lock(a, F_SETLK, F_UNLCK, 0, 4);
    lock(a, F_OFD_SETLK, F_WRLCK, 0, 4);
    lock(b, F_OFD_GETLK, F_RDLCK, 2, 1);
    lock(b, F_OFD_SETLK, F_RDLCK, 2, 1);
    lock(b, F_OFD_SETLK, F_RDLCK, 8, 2);
    lock(a, F_OFD_SETLKW, F_UNLCK, 0, 0);
    lock(b, F_OFD_SETLKW, F_WRLCK, 0, 4);
    lock(a, F_SETLK, 99, 0, 1);
    T(flock(a, LOCK_EX));
    T(flock(b, LOCK_EX | LOCK_NB));
    T(flock(b, LOCK_SH | LOCK_NB));
    T(flock(a, LOCK_UN));
    T(flock(b, LOCK_SH | LOCK_NB));
    T(flock(a, LOCK_SH | LOCK_NB));
    T(flock(a, 77));
    T(flock(99, LOCK_EX));
    T(close(a) | close(b));
    return 0;
}
