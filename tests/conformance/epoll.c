/* epoll: instances, interest lists, ready events with their data, edge cases, and waits
   under a signal mask of their own. */
#include "conf.h"
#include <signal.h>
#include <sys/epoll.h>
#include <sys/time.h>

static volatile sig_atomic_t alarms;

static void on_alarm(int sig) { alarms++; }

static void show(const char *what, struct epoll_event *ev, int n) {
    for (int i = 0; i < n; i++)
        SAY("%s[%d]: events %x data %llx\n", what, i, ev[i].events,
            (unsigned long long)ev[i].data.u64);
}

int main(void) {
    int ep = T(epoll_create1(EPOLL_CLOEXEC));
    T(fcntl(ep, F_GETFD));
    T(epoll_create1(12345));
    T(epoll_create(0));
    int p[2];
    T(pipe(p));
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1122334455667788ull};
    struct epoll_event out[4];
    T(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    T(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    T(epoll_wait(ep, out, 4, 0));
    T(write(p[1], "x", 1));
    int n = T(epoll_wait(ep, out, 4, -1));
    show("readable", out, n);
    ev.events = EPOLLOUT;
    ev.data.u64 = 0xabcdef;
    T(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev));
    n = T(epoll_wait(ep, out, 4, 100));
    show("both", out, n);
    n = T(epoll_wait(ep, out, 1, 100));
    show("one of them", out, n);
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = 42;
    T(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    T(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
    T(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
    n = T(epoll_wait(ep, out, 4, 0));
    show("edge-triggered, first", out, n);
    T(epoll_wait(ep, out, 4, 0));
    put("plain", "data");
    int file = open("plain", O_RDONLY);
    T(epoll_ctl(ep, EPOLL_CTL_ADD, file, &ev));
    T(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
    T(epoll_ctl(ep, EPOLL_CTL_ADD, 99, &ev));
    T(epoll_ctl(99, EPOLL_CTL_ADD, p[0], &ev));
    T(epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev));
    T(epoll_ctl(ep, 77, p[1], &ev));
    T(epoll_wait(p[0], out, 4, 0));
    T(epoll_wait(ep, out, 0, 0));
    T(epoll_wait(99, out, 4, 0));

    /* Nested: an epoll instance watching another. */
    int outer = T(epoll_create1(0));
    ev.events = EPOLLIN;
    ev.data.u64 = 7;
    T(epoll_ctl(outer, EPOLL_CTL_ADD, ep, &ev));
    ev.events = EPOLLIN;
    ev.data.u64 = 8;
    T(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    n = T(epoll_wait(outer, out, 4, 100));
    show("outer", out, n);

    /* The writer closes: EPOLLHUP; the reader closes: it leaves the interest list. */
    T(close(p[1]));
    n = T(epoll_wait(ep, out, 4, 100));
    show("hang-up", out, n);
    T(close(p[0]));
    T(epoll_wait(ep, out, 4, 0));

    /* epoll_pwait: a signal blocked outside the wait and taken inside it. */
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    sigset_t block, empty;
    sigemptyset(&block);
    sigemptyset(&empty);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, NULL);
    struct itimerval it = {{0, 0}, {0, 20000}};
    setitimer(ITIMER_REAL, &it, NULL);
    T(epoll_pwait(ep, out, 4, -1, &empty));
    SAY("alarms %d\n", alarms);
    setitimer(ITIMER_REAL, &it, NULL);
    T(epoll_wait(ep, out, 4, 100));
    sigset_t pending;
    sigpending(&pending);
    SAY("blocked alarm pending after epoll_wait: %d, alarms %d\n", sigismember(&pending, SIGALRM),
        alarms);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    SAY("alarms %d\n", alarms);
    T(close(ep));
    T(close(outer));
    return 0;
}
