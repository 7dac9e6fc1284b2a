/* Interval timers, alarm, pause, sigsuspend, and waits under a signal mask of their own
   (ppoll, pselect): the timer's signal is an input the recording delivers at a logged icount. */
#include "conf.h"
#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/time.h>
#include <time.h>

static volatile sig_atomic_t alarms, virtual_alarms, blocked_inside;

static void on_alarm(int sig) {
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    blocked_inside = sigismember(&now, SIGALRM);
    alarms++;
}

static void on_virtual(int sig) { virtual_alarms++; }

static void arm_ms(int which, long ms) {
    struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
    setitimer(which, &it, NULL);
}

static int alarm_blocked(void) {
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    return sigismember(&now, SIGALRM);
}

int main(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART; /* none of these calls restarts after a handler, SA_RESTART or not */
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_handler = on_virtual;
    sigaction(SIGVTALRM, &sa, NULL);

    struct itimerval it = {{0, 0}, {5, 0}}, old;
    T(setitimer(ITIMER_REAL, &it, NULL));
    T(getitimer(ITIMER_REAL, &old));
    SAY("armed, seconds left in [3, 5]: %d\n", old.it_value.tv_sec >= 3 && old.it_value.tv_sec <= 5);
    unsigned left = alarm(0);
    SAY("alarm(0) after setitimer: left in [4, 5]: %d\n", left >= 4 && left <= 5);
    T(getitimer(ITIMER_REAL, &old));
    SAY("disarmed: %ld %ld\n", (long)old.it_value.tv_sec, (long)old.it_value.tv_usec);
    T(setitimer(7, &it, NULL));
    T(getitimer(-1, &old));

    T(alarm(7));
    T(alarm(0) == 7);
    arm_ms(ITIMER_REAL, 20);
    T(pause());
    SAY("alarms %d, SIGALRM blocked in its handler %d\n", alarms, blocked_inside);

    sigset_t block, empty, pending;
    sigemptyset(&block);
    sigemptyset(&empty);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, NULL);
    arm_ms(ITIMER_REAL, 20);
    T(sigsuspend(&empty));
    SAY("after sigsuspend: alarms %d, blocked again %d\n", alarms, alarm_blocked());

    int p[2];
    T(pipe(p));
    struct pollfd pfd = {p[0], POLLIN, 0};
    arm_ms(ITIMER_REAL, 20);
    T(ppoll(&pfd, 1, NULL, &empty));
    SAY("after ppoll: alarms %d, blocked again %d\n", alarms, alarm_blocked());

    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    arm_ms(ITIMER_REAL, 20);
    T(pselect(p[0] + 1, &rd, NULL, NULL, NULL, &empty));
    SAY("after pselect: alarms %d, blocked again %d\n", alarms, alarm_blocked());

    /* A blocked timer signal does not end a wait; it stays pending until unblocked. */
    arm_ms(ITIMER_REAL, 20);
    T(poll(&pfd, 1, 100));
    sigpending(&pending);
    SAY("pending after the poll: %d, alarms %d\n", sigismember(&pending, SIGALRM), alarms);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    SAY("unblocked: alarms %d\n", alarms);

    struct timespec req = {3, 0}, rem = {0, 0};
    arm_ms(ITIMER_REAL, 20);
    T(nanosleep(&req, &rem));
    SAY("nanosleep left more than 2 s: %d, alarms %d\n", rem.tv_sec >= 2, alarms);

    arm_ms(ITIMER_VIRTUAL, 10);
    while (!virtual_alarms) {
    }
    SAY("virtual timer fired: %d\n", virtual_alarms);
    T(getitimer(ITIMER_VIRTUAL, &old));
    SAY("virtual timer after firing: %ld %ld\n", (long)old.it_value.tv_sec,
        (long)old.it_value.tv_usec);
    return 0;
}
