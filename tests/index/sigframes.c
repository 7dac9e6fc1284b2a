/* Signal frames over stack slots written before: a deep call fills stack below main's frame,
 * then a signal raised in main (delivered as its syscall returns) and a timer signal arriving
 * in a loop (delivered between two instructions) each put their frame over those slots. The
 * handlers record where their frames were. Prints "ok". */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

volatile unsigned long frames[2], spins;
static volatile sig_atomic_t alarmed;

static void on_usr1(int sig, siginfo_t *info, void *uc) { (void)sig; (void)info; frames[0] = (unsigned long)uc; }
static void on_alrm(int sig, siginfo_t *info, void *uc) { (void)sig; (void)info; frames[1] = (unsigned long)uc; alarmed = 1; }

static __attribute__((noinline)) void fill(void) {
    volatile char deep[6000];
    memset((char *)deep, 0x5a, sizeof deep);
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_flags = SA_SIGINFO;
    sa.sa_sigaction = on_usr1;
    sigaction(SIGUSR1, &sa, 0);
    sa.sa_sigaction = on_alrm;
    sigaction(SIGALRM, &sa, 0);
    fill();
    raise(SIGUSR1);
    fill();
    struct itimerval t = {{0, 0}, {0, 200}};
    setitimer(ITIMER_REAL, &t, 0);
    while (!alarmed) spins++;
    printf(frames[0] && frames[1] ? "ok\n" : "missing\n");
    return 0;
}
