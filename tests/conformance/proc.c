/* /proc/self as the program sees it natively: its own argv, name, fds, memory map. */
#include "conf.h"
#include <dirent.h>

static void show(const char *path) {
    char buf[4096];
    int fd = open(path, O_RDONLY);
    if (fd < 0) { SAY("%s: %s\n", path, strerrorname_np(errno)); return; }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == 0) buf[i] = '|';
    SAY("%s: %.*s\n", path, (int)(n > 0 ? n : 0), buf);
}

static int has_line(const char *path, const char *needle) {
    char line[512];
    FILE *f = fopen(path, "r");
    int found = 0;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, needle)) found = 1;
    if (f) fclose(f);
    return found;
}

int main(int argc, char **argv) {
    (void)argc;
    char path[256], link[512];
    show("/proc/self/cmdline");
    snprintf(path, sizeof path, "/proc/%d/cmdline", getpid());
    int own = open(path, O_RDONLY), self = open("/proc/self/cmdline", O_RDONLY);
    char one[256] = {0}, two[256] = {0};
    SAY("/proc/<pid>/cmdline is /proc/self/cmdline: %d\n",
        read(own, one, sizeof one) == read(self, two, sizeof two) && !memcmp(one, two, sizeof one));
    show("/proc/thread-self/cmdline");
    T(setenv("CONFORMANCE", "yes", 1));
    ssize_t n = readlink("/proc/self/exe", link, sizeof link);
    if (n > 0) link[n] = 0;
    SAY("exe is argv[0]'s file: %d\n", n > 0 && strstr(argv[0], strrchr(link, '/') + 1) != NULL);
    int fd = T(open("kept-open", O_CREAT | O_RDWR, 0644));
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    n = readlink(path, link, sizeof link);
    if (n > 0) link[n] = 0;
    SAY("fd link ends in /kept-open: %d\n", n > 0 && !strcmp(strrchr(link, '/'), "/kept-open"));
    snprintf(path, sizeof path, "/dev/fd/%d", fd);
    int again = T(open(path, O_RDWR));
    T(write(again, "via /dev/fd", 11));
    T(lseek(fd, 0, SEEK_END));
    DIR *d = opendir("/proc/self/fd");
    int count = 0, saw_fd = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        count++;
        if (atoi(e->d_name) == fd) saw_fd = 1;
    }
    if (d) closedir(d);
    SAY("fd directory lists the open file: %d, at least 5 entries: %d\n", saw_fd, count >= 5);
    free(malloc(100000));
    SAY("maps shows [stack]: %d, [heap] after malloc: %d\n", has_line("/proc/self/maps", "[stack]"),
        has_line("/proc/self/maps", "[heap]"));
    SAY("status names the pid: %d\n", (snprintf(link, sizeof link, "Pid:\t%d", getpid()),
                                       has_line("/proc/self/status", link)));
    struct stat st;
    T(stat("/proc/self/cmdline", &st) == 0 && S_ISREG(st.st_mode));
    T(lstat("/proc/self/exe", &st) == 0 && S_ISLNK(st.st_mode));
    T(access("/proc/self/cmdline", R_OK));
    return 0;
}
