/* Blocks in read() with a SIGINT handler installed with or without SA_RESTART ("restart"
 * argument): with it, the read goes on after the handler; without, it fails with EINTR. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t handled;
static void on_int(int sig) { handled = sig; }

int main(int argc, char **argv) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_int;
    sa.sa_flags = argc > 1 && strcmp(argv[1], "restart") == 0 ? SA_RESTART : 0;
    sigaction(SIGINT, &sa, 0);
    printf("reading\n");
    fflush(stdout);
    char buf[64];
    ssize_t got = read(0, buf, sizeof buf - 1);
    int err = errno;
    printf("handled=%d read=%zd %s\n", handled, got, got < 0 ? strerror(err) : "");
    return 0;
}
