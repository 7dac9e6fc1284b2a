/* poll, ppoll and select over pipes and files, with and without timeouts. */
#include "conf.h"
#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <time.h>

int main(void) {
    int p[2];
    T(pipe(p));
    struct pollfd fds[3] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {-1, POLLIN, 0}};
    T(poll(fds, 3, 0));
    SAY("revents %x %x %x\n", fds[0].revents, fds[1].revents, fds[2].revents);
    T(write(p[1], "x", 1));
    T(poll(fds, 1, -1));
    SAY("revents %x\n", fds[0].revents);
    struct timespec ts = {0, 1000000};
    fds[0].fd = p[0];
    char c;
    T(read(p[0], &c, 1));
    T(ppoll(fds, 1, &ts, NULL));
    SAY("revents %x\n", fds[0].revents);
    struct pollfd closed = {77, POLLIN, 0};
    T(poll(&closed, 1, 0));
    SAY("closed fd revents %x\n", closed.revents);
    put("plain", "data");
    struct pollfd file = {open("plain", O_RDONLY), POLLIN | POLLOUT, 0};
    T(poll(&file, 1, -1));
    SAY("file revents %x\n", file.revents);
    T(close(p[1]));
    T(poll(fds, 1, 1000));
    SAY("after the writer closed: revents %x\n", fds[0].revents);
    int q[2];
    T(pipe(q));
    fd_set rd, wr;
    FD_ZERO(&rd); FD_ZERO(&wr);
    FD_SET(q[0], &rd); FD_SET(q[1], &wr);
    struct timeval tv = {0, 1000};
    T(select(q[1] + 1, &rd, &wr, NULL, &tv));
    SAY("select: read ready %d, write ready %d\n", FD_ISSET(q[0], &rd), FD_ISSET(q[1], &wr));
    T(write(q[1], "yz", 2));
    FD_ZERO(&rd); FD_SET(q[0], &rd);
    T(select(q[0] + 1, &rd, NULL, NULL, NULL));
    SAY("select: read ready %d\n", FD_ISSET(q[0], &rd));
    struct timespec pts = {0, 1000};
    FD_ZERO(&rd);
    T(pselect(1, &rd, NULL, NULL, &pts, NULL));
    return 0;
}
