/* Signal handlers: signal() and sigaction(SA_SIGINFO) on raise(), then floating point. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
static volatile int got;
static void on_usr1(int sig) { got += sig; }
static void on_info(int sig, siginfo_t *info, void *uc) { (void)uc; got += 100 * info->si_signo; }
int main(void) {
    signal(SIGUSR1, on_usr1);
    raise(SIGUSR1);
    struct sigaction sa; memset(&sa, 0, sizeof sa); sa.sa_sigaction = on_info; sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR2, &sa, 0);
    raise(SIGUSR2);
    double x = 1.5; for (int i = 0; i < 3; i++) x *= 2.25;
    printf("handled: got=%d x=%.4f\n", got, x);
    return 0;
}
