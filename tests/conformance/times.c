/* Time: explicit file times (utimensat, futimens, utimes), clocks, sleeping. */
#include "conf.h"
#include <sys/time.h>
#include <time.h>

static void show_times(const char *path) {
    struct stat st;
    if (lstat(path, &st) == 0)
        SAY("%s: atime %ld.%09ld mtime %ld.%09ld\n", path, (long)st.st_atim.tv_sec,
            st.st_atim.tv_nsec, (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

int main(void) {
    put("stamped", "t");
    struct timespec ts[2] = {{1000000000, 123456789}, {1234567890, 987654321}};
    T(utimensat(AT_FDCWD, "stamped", ts, 0));
    show_times("stamped");
    struct timespec omit[2] = {{0, UTIME_OMIT}, {1300000000, 5}};
    T(utimensat(AT_FDCWD, "stamped", omit, 0));
    show_times("stamped");
    struct timespec bad[2] = {{0, 2000000000}, {0, 0}};
    T(utimensat(AT_FDCWD, "stamped", bad, 0));
    int fd = T(open("stamped", O_RDONLY));
    struct timespec f[2] = {{1400000000, 0}, {1400000001, 1}};
    T(futimens(fd, f));
    show_times("stamped");
    T(close(fd));
    struct timeval tv[2] = {{1500000000, 250000}, {1500000001, 750000}};
    put("tv", "v");
    T(utimes("tv", tv));
    show_times("tv");
    T(symlink("stamped", "link"));
    struct timespec l[2] = {{1100000000, 0}, {1100000000, 0}};
    T(utimensat(AT_FDCWD, "link", l, AT_SYMLINK_NOFOLLOW));
    show_times("link");
    show_times("stamped");
    T(utimensat(AT_FDCWD, "absent", NULL, 0));
    struct timespec res, a, b;
    T(clock_getres(CLOCK_MONOTONIC, &res));
    SAY("monotonic resolution <= 1ms: %d\n", res.tv_sec == 0 && res.tv_nsec <= 1000000);
    T(clock_gettime(CLOCK_MONOTONIC, &a));
    struct timespec nap = {0, 2000000};
    T(nanosleep(&nap, NULL));
    T(clock_gettime(CLOCK_MONOTONIC, &b));
    long ns = (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec);
    SAY("slept at least 2ms: %d\n", ns >= 2000000);
    struct timespec badnap = {0, -1};
    T(nanosleep(&badnap, NULL));
    T(clock_gettime(12345, &a));
    struct timeval now;
    T(gettimeofday(&now, NULL));
    SAY("time() agrees with gettimeofday: %d\n", labs(time(NULL) - now.tv_sec) <= 1);
    return 0;
}
