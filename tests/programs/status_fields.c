/* /proc/self/status, stat and statm as the program sees them: the field names in order and
   the values the program's own actions decide, which must be what Linux shows natively. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char status[16384];

static void load(void) {
    FILE *f = fopen("/proc/self/status", "r");
    size_t n = f ? fread(status, 1, sizeof status - 1, f) : 0;
    status[n] = 0;
    if (f) fclose(f);
}

/* The value of field `name` (up to the end of its line), or "" when there is none. */
static const char *field(const char *name) {
    static char value[512];
    size_t len = strlen(name);
    for (char *line = status; *line; line = strchr(line, '\n') + 1) {
        if (!strncmp(line, name, len) && line[len] == ':') {
            char *v = line + len + 1, *end = strchr(v, '\n');
            while (*v == '\t' || *v == ' ') v++;
            snprintf(value, sizeof value, "%.*s", (int)(end - v), v);
            return value;
        }
        if (!strchr(line, '\n')) break;
    }
    return "";
}

/* Four fields' values on one line. */
static void show(const char *a, const char *b, const char *c, const char *d) {
    const char *names[] = {a, b, c, d};
    for (int i = 0; i < 4; i++) printf("%s: %s%s", names[i], field(names[i]), i < 3 ? " " : "\n");
}

static long kb(const char *name) { return atol(field(name)); }

static void first_line(const char *path, char *out, int size) {
    FILE *f = fopen(path, "r");
    if (!f || !fgets(out, size, f)) snprintf(out, size, "(none)");
    if (f) fclose(f);
}

static void handler(int sig) { (void)sig; }

int main(void) {
    load();
    printf("fields:");
    for (char *line = status; *line; line = strchr(line, '\n') + 1) {
        printf(" %.*s", (int)(strchr(line, ':') - line), line);
        if (!strchr(line, '\n')) break;
    }
    printf("\n");
    show("Name", "State", "Threads", "Umask");
    printf("Tgid == Pid == getpid(): %d\n",
           atol(field("Tgid")) == getpid() && atol(field("Pid")) == getpid());
    printf("PPid == getppid(): %d\n", atol(field("PPid")) == getppid());
    char ids[64];
    snprintf(ids, sizeof ids, "%d\t%d\t%d\t%d", getuid(), geteuid(), geteuid(), geteuid());
    printf("Uid is the ids: %d\n", !strcmp(field("Uid"), ids));
    long fdsize = atol(field("FDSize"));
    printf("FDSize a power of two from 64: %d\n", fdsize >= 64 && !(fdsize & (fdsize - 1)));
    printf("VmSize > 0: %d, VmStk > 0: %d, VmExe > 0: %d, VmRSS > 0: %d\n", kb("VmSize") > 0,
           kb("VmStk") > 0, kb("VmExe") > 0, kb("VmRSS") > 0);
    printf("VmPeak >= VmSize: %d\n", kb("VmPeak") >= kb("VmSize"));
    show("SigBlk", "SigIgn", "SigCgt", "SigPnd");

    long before = kb("VmSize"), data = kb("VmData");
    void *big = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    load();
    printf("mmap 1 MiB: VmSize +%ld kB, VmData +%ld kB\n", kb("VmSize") - before,
           kb("VmData") - data);
    long locked = kb("VmLck");
    mlock((char *)big + 4096, 3 * 4096);
    mlock(big, 2 * 4096);
    load();
    printf("mlock 4 pages: VmLck +%ld kB\n", kb("VmLck") - locked);
    munlock((char *)big + 4096, 4096);
    load();
    printf("munlock 1 of them: VmLck +%ld kB\n", kb("VmLck") - locked);
    munmap(big, 1 << 20);
    load();
    printf("after munmap: VmSize +%ld kB, VmPeak - VmSize >= 1024: %d, VmLck +%ld kB\n",
           kb("VmSize") - before, kb("VmPeak") - kb("VmSize") >= 1024, kb("VmLck") - locked);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGRTMIN + 2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR2, handler);
    raise(SIGUSR1);
    umask(027);
    load();
    show("SigBlk", "SigIgn", "SigCgt", "SigPnd");
    show("Umask", "ShdPnd", "Threads", "State");

    char line[4096];
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(line, 1, sizeof line - 1, f) : 0;
    line[n] = 0;
    if (f) fclose(f);
    char *after = strrchr(line, ')');
    int count = 2;
    for (char *s = after + 1; *s; s++)
        if (*s == ' ') count++;
    unsigned long fields[64] = {0};
    char state = after[2];
    char *s = after + 4;
    for (int i = 4; i <= count && i < 64; i++) fields[i] = strtoul(s, &s, 10);
    printf("stat: %d fields, pid %d, state %c, threads %ld, vsize is VmSize: %d\n", count,
           atol(line) == getpid(), state, fields[20], fields[23] / 1024 == kb("VmSize"));
    printf("stat: ppid %d, blocked %lx, ignored %lx, caught %lx, exit_signal %ld\n",
           fields[4] == getppid(), fields[32], fields[33], fields[34], fields[38]);
    long ticks = sysconf(_SC_CLK_TCK);
    struct timespec boot;
    clock_gettime(CLOCK_BOOTTIME, &boot);
    printf("stat: started after boot and before now: %d\n",
           fields[22] > 0 && fields[22] <= boot.tv_sec * ticks + ticks);
    long statm[7] = {0};
    f = fopen("/proc/self/statm", "r");
    if (f) {
        for (int i = 0; i < 7; i++)
            if (fscanf(f, "%ld", &statm[i]) != 1) break;
        fclose(f);
    }
    printf("statm: size is VmSize: %d, text is VmExe: %d\n", statm[0] * 4 == kb("VmSize"),
           statm[3] * 4 == kb("VmExe"));
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    load();
    /* Linux's maxrss counts the process before its execve too: only its sign compares. */
    printf("getrusage: maxrss > 0: %d, children none: %d\n", self.ru_maxrss > 0,
           children.ru_maxrss == 0 && children.ru_utime.tv_sec == 0 &&
               children.ru_utime.tv_usec == 0);
    struct rlimit sigpending, rss;
    getrlimit(RLIMIT_SIGPENDING, &sigpending);
    getrlimit(RLIMIT_RSS, &rss);
    const char *limit = strchr(field("SigQ"), '/');
    printf("SigQ's limit is RLIMIT_SIGPENDING: %d, stat's rsslim is RLIMIT_RSS: %d\n",
           limit && strtoul(limit + 1, NULL, 10) == sigpending.rlim_cur,
           (unsigned long)fields[25] == rss.rlim_cur);
    char online[64], present[64];
    first_line("/sys/devices/system/cpu/online", online, sizeof online);
    first_line("/sys/devices/system/cpu/present", present, sizeof present);
    printf("CPUs present are those online: %d\n", !strcmp(online, present));
    struct stat st;
    int result = stat("/proc/self/status", &st);
    printf("status made after 2020: %d, owned by euid: %d\n",
           result == 0 && st.st_mtime > 1577836800, st.st_uid == geteuid());
    return 0;
}
