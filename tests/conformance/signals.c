/* Signals the program sends itself: handlers, masks, pending sets, restarts. */
#include "conf.h"
#include <signal.h>

static volatile int got;
static void on_signal(int sig) { got = sig; }

int main(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    T(sigaction(SIGUSR1, &sa, NULL));
    T(raise(SIGUSR1));
    SAY("handler saw %d\n", got);
    sigset_t set, old, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    T(sigprocmask(SIG_BLOCK, &set, &old));
    got = 0;
    T(kill(getpid(), SIGUSR1));
    SAY("blocked: handler saw %d\n", got);
    T(sigpending(&pending));
    SAY("pending SIGUSR1: %d\n", sigismember(&pending, SIGUSR1));
    T(sigprocmask(SIG_SETMASK, &old, NULL));
    SAY("unblocked: handler saw %d\n", got);
    T(kill(getpid(), 0));
    T(kill(getpid(), 999));
    T(sigaction(SIGKILL, &sa, NULL));
    T(signal(SIGUSR2, SIG_IGN) == SIG_ERR);
    T(raise(SIGUSR2));
    SAY("ignored SIGUSR2, still here\n");
    return 0;
}
