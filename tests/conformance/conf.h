/* Shared by the conformance programs: print each call and its outcome, one line each, so the
   transcripts of the native run, the recording and the replay can be compared line by line. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long conf_show(const char *what, long result) {
    if (result == -1)
        printf("%s = -1 %s\n", what, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
    else
        printf("%s = %ld\n", what, result);
    fflush(stdout);
    return result;
}
#define T(expr) conf_show(#expr, (long)(expr))
#define SAY(...) (printf(__VA_ARGS__), fflush(stdout))

static inline void put(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        if (write(fd, text, strlen(text)) < 0) SAY("write %s failed\n", path);
        close(fd);
    }
}
