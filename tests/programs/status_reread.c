/* /proc/self/status, stat, comm and maps opened first, read after the program changed what
   they show (signal mask and handlers, name, a new mapping), then read again from the start
   after more changes: Linux makes their text at a read from the start, not at open. Then
   SigQ's count of queued signals as two blocked signals become pending. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

static char text[65536];

/* The lines of the file open as `fd` that start with one of `keys`, read from `offset`
   (pread) or from its own position (-1). */
static void show(int fd, long offset, const char *when, const char *const *keys) {
    ssize_t n = offset < 0 ? read(fd, text, sizeof text - 1)
                           : pread(fd, text, sizeof text - 1, offset);
    text[n > 0 ? n : 0] = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        for (const char *const *k = keys; *k; k++)
            if (strstr(line, *k) == line)
                printf("%s: %s\n", when, line);
}

/* How many lines of the file open as `fd`, read from its position, hold `needle`. */
static int count(int fd, const char *needle) {
    ssize_t n = read(fd, text, sizeof text - 1);
    text[n > 0 ? n : 0] = 0;
    int found = 0;
    for (char *at = text; (at = strstr(at, needle)) != NULL; at++)
        found++;
    return found;
}

/* The count of signals queued for the user, SigQ's first number, from a fresh read. */
static int signal_queue(void) {
    int fd = open("/proc/self/status", O_RDONLY);
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    text[n > 0 ? n : 0] = 0;
    char *at = strstr(text, "\nSigQ:\t");
    return at ? atoi(at + 7) : -1;
}

int main(void) {
    static const char *const status_keys[] = {"Name:", "SigBlk:", "SigIgn:", "SigCgt:", NULL};
    static const char *const comm_keys[] = {"", NULL};
    int status = open("/proc/self/status", O_RDONLY);
    int comm = open("/proc/self/comm", O_RDONLY);
    int stat = open("/proc/self/stat", O_RDONLY);
    int maps = open("/proc/self/maps", O_RDONLY);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGUSR2, SIG_IGN);
    prctl(PR_SET_NAME, "renamed");
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    show(status, -1, "status read after", status_keys);
    show(comm, -1, "comm read after", comm_keys);
    printf("maps read after: %d rwxp\n", count(maps, " rwxp "));
    char buf[512];
    ssize_t n = read(stat, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    printf("stat read after: %.*s\n", (int)(strchr(buf, ')') + 1 - buf - (strchr(buf, '(') - buf)), strchr(buf, '('));
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGUSR2, SIG_DFL);
    prctl(PR_SET_NAME, "again");
    munmap(page, 4096);
    lseek(status, 0, SEEK_SET);
    show(status, -1, "status again from 0", status_keys);
    show(comm, 0, "comm pread at 0", comm_keys);
    lseek(maps, 0, SEEK_SET);
    printf("maps again from 0: %d rwxp\n", count(maps, " rwxp "));
    /* Pending signals count in SigQ, a kill to the process as a raise to the thread. */
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int before = signal_queue();
    kill(getpid(), SIGUSR1);
    int killed = signal_queue();
    raise(SIGUSR2);
    printf("SigQ grew by %d after kill, by %d after raise\n", killed - before,
           signal_queue() - before);
    printf("done\n");
    return 0;
}
