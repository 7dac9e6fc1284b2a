/* Descriptor calls on the process's own /proc entries (files served by seq_file and not, and
   a directory): what each call answers, never a crash of the recorder. */
#include "conf.h"
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/statfs.h>
#include <termios.h>

static void probe(const char *path) {
    SAY("== %s\n", path);
    int fd = T(open(path, O_RDONLY));
    struct statfs sfs;
    struct termios tio;
    int n = 0;
    char buf[64];
    T(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL));
    T(posix_fadvise(fd, 0, 0, 77));
    T(ftruncate(fd, 0));
    T(fsync(fd));
    T(fdatasync(fd));
    T(flock(fd, LOCK_UN));
    T(ioctl(fd, TCGETS, &tio));
    T(ioctl(fd, TIOCGWINSZ, buf));
    T(read(fd, buf, 3) >= 0);
    T(ioctl(fd, FIONREAD, &n));
    SAY("FIONREAD: %d\n", n);
    T(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK | O_DIRECTORY));
    struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
    T(fcntl(fd, F_GETLK, &fl));
    SAY("F_GETLK type: %d\n", fl.l_type);
    fl.l_type = F_RDLCK;
    T(fcntl(fd, F_SETLK, &fl));
    fl.l_type = F_WRLCK;
    T(fcntl(fd, F_SETLK, &fl));
    fl.l_type = F_UNLCK;
    T(fcntl(fd, F_SETLK, &fl));
    T(fstatfs(fd, &sfs) == 0 ? (long)sfs.f_type : -2);
    T(fchmod(fd, 0644));
    T(fchown(fd, -1, -1));
    T(mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED ? -1 : 0);
    T(lseek(fd, 0, SEEK_END));
    T(lseek(fd, 0, SEEK_SET));
    T(pread(fd, buf, 4, 0) >= 0);
    T(write(fd, "x", 1));
    T(pwrite(fd, "x", 1, 0));
    T(sync_file_range(fd, 0, 0, 0));
    T(fallocate(fd, 0, 0, 10));
    T(syncfs(fd));
    T(readahead(fd, 0, 100));
    T(sendfile(1, fd, NULL, 0));
    T(sendfile(1, fd, NULL, 6));
    T(copy_file_range(fd, NULL, 1, NULL, 1, 0));
    T(close(fd));
}

int main(void) {
    probe("/proc/self/status");
    probe("/proc/self/maps");
    probe("/proc/self/cmdline");
    probe("/proc/self/environ");
    probe("/proc/self");
    T(fchdir(T(open("/proc/self/cmdline", O_RDONLY))));
    return 0;
}
