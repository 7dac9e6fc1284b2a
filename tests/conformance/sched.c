/* Anonymous files (memfd_create), page residency (mincore), priorities and scheduling. */
#include "conf.h"
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>

int main(void) {
    int fd = T(memfd_create("conf", MFD_CLOEXEC));
    T(fcntl(fd, F_GETFD));
    T(write(fd, "hello memfd", 11));
    T(lseek(fd, 0, SEEK_SET));
    char buf[32] = {0};
    T(read(fd, buf, sizeof buf - 1));
    SAY("read back: %s\n", buf);
    struct stat st;
    T(fstat(fd, &st));
    SAY("regular %d, size %ld, mode %o, links %ld\n", S_ISREG(st.st_mode), (long)st.st_size,
        st.st_mode & 07777, (long)st.st_nlink);
    char link[64] = {0}, path[32];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    T(readlink(path, link, sizeof link - 1));
    SAY("link: %s\n", link);
    T(ftruncate(fd, 4096));
    char *map = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    SAY("mapped: %d, %.5s\n", map != MAP_FAILED, map != MAP_FAILED ? map : "");
    T(pwrite(fd, "HELLO", 5, 0));
    T(pread(fd, buf, 11, 0));
    SAY("after pwrite: %.11s\n", buf);
    char name[300];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    T(memfd_create(name, 0));
    T(memfd_create("bad", 0x100));
    T(close(fd));

    long page = sysconf(_SC_PAGESIZE);
    char *mem = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(mem, 1, 3 * page);
    unsigned char vec[3] = {9, 9, 9};
    T(mincore(mem, 3 * page, vec));
    SAY("resident: %d %d %d\n", vec[0] & 1, vec[1] & 1, vec[2] & 1);
    T(mincore(mem + 1, page, vec));
    T(mincore(mem, 0, vec));
    T(munmap(mem + page, page));
    T(mincore(mem, 3 * page, vec));

    errno = 0;
    int nice = getpriority(PRIO_PROCESS, 0);
    SAY("getpriority errno %d\n", errno);
    T(setpriority(PRIO_PROCESS, 0, nice + 1));
    SAY("nice went up by one: %d\n", getpriority(PRIO_PROCESS, 0) == nice + 1);
    T(setpriority(PRIO_PROCESS, getpid(), nice + 2));
    SAY("nice went up by two: %d\n", getpriority(PRIO_PROCESS, getpid()) == nice + 2);
    T(getpriority(5, 0));
    T(setpriority(5, 0, 0));

    T(sched_getscheduler(0));
    T(sched_getscheduler(getpid()));
    T(sched_getscheduler(-1));
    struct sched_param sp = {77};
    T(sched_getparam(0, &sp));
    SAY("priority %d\n", sp.sched_priority);
    T(sched_getparam(-1, &sp));
    T(sched_get_priority_max(SCHED_FIFO));
    T(sched_get_priority_min(SCHED_FIFO));
    T(sched_get_priority_max(SCHED_OTHER));
    T(sched_get_priority_min(SCHED_BATCH));
    T(sched_get_priority_max(77));
    return 0;
}
