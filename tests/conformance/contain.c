/* Reaching the recorder through /proc: every way in is refused or shows the guest itself. */
#include "conf.h"

int main(int argc, char **argv) {
    (void)argc;
    char path[128], buf[256];
    T(open("/proc/self/mem", O_RDWR));
    T(open("/proc/thread-self/mem", O_RDONLY));
    snprintf(path, sizeof path, "/proc/%d/mem", getpid());
    T(open(path, O_RDONLY));
    T(open("/dev/fd/7", O_RDONLY));
    T(symlink("/proc/self", "self-link"));
    T(open("self-link/mem", O_RDWR));
    T(open("self-link/environ", O_RDONLY));
    T(open("self-link/../self/mem", O_RDONLY));
    T(access("self-link/..", R_OK));
    int proc = T(open("/proc", O_RDONLY | O_DIRECTORY));
    T(openat(proc, "self/mem", O_RDONLY));
    snprintf(path, sizeof path, "%d/maps", getpid());
    int maps = T(openat(proc, path, O_RDONLY));
    ssize_t n = read(maps, buf, sizeof buf);
    SAY("maps via /proc dirfd starts at the guest's program: %d\n",
        n > 0 && strncmp(buf, "00400000-", 9) == 0);
    T(chdir("/proc/self"));
    T(readlink("/proc/self/fd/7", buf, sizeof buf));
    int fd = T(open("/proc/self/cmdline", O_RDONLY));
    n = read(fd, buf, sizeof buf);
    SAY("cmdline is the guest's argv: %d\n", n > 0 && strcmp(buf, argv[0]) == 0);
    T(open("/proc/self/cmdline", O_WRONLY));
    T(unlink("self-link"));
    return 0;
}
