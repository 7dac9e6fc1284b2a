/* Process information: ids, limits, CPUs, system information, names. */
#include "conf.h"
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <sys/wait.h>

int main(void) {
    T(getpid() == gettid());
    T(getppid() > 0);
    T(getuid() == geteuid());
    T(getgid() == getegid());
    T(getpgrp() == getpgid(0));
    T(getsid(0) > 0);
    T(getgroups(0, NULL) >= 0);
    struct utsname u;
    T(uname(&u));
    SAY("sysname %s\n", u.sysname);
    struct sysinfo si;
    T(sysinfo(&si));
    SAY("sysinfo: mem_unit %u, totalram > freeram > 0: %d, uptime > 0: %d\n", si.mem_unit,
        si.totalram > si.freeram && si.freeram > 0, si.uptime > 0);
    SAY("phys pages > 0: %d\n", get_phys_pages() > 0);
    cpu_set_t cpus;
    T(sched_getaffinity(0, sizeof cpus, &cpus));
    SAY("cpus >= 1: %d, cpu 0 allowed: %d\n", CPU_COUNT(&cpus) >= 1, CPU_ISSET(0, &cpus));
    SAY("online cpus >= 1: %d\n", sysconf(_SC_NPROCESSORS_ONLN) >= 1);
    char name[16];
    T(prctl(PR_SET_NAME, "renamed-task"));
    T(prctl(PR_GET_NAME, name));
    SAY("name %s\n", name);
    struct rlimit rl;
    T(getrlimit(RLIMIT_STACK, &rl));
    T(getrlimit(99, &rl));
    T(waitpid(-1, NULL, WNOHANG));
    T(umask(0));
    T(umask(022));
    return 3;
}
