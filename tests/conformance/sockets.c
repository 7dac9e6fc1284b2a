/* Unix socket pairs (asyncio's self-pipe): send, receive (peek, don't wait, with the sender's
   address), the names of the ends, shutdown, status flags, readiness; ENOTSOCK elsewhere. */
#include "conf.h"
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(void) {
    int s[2], d[2];
    char b[64] = {0};
    struct sockaddr_un addr;
    socklen_t len = sizeof addr;
    T(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
    T(fcntl(s[0], F_GETFD));
    T(fcntl(s[0], F_GETFL) & (O_ACCMODE | O_NONBLOCK));
    T(getsockname(s[0], (struct sockaddr *)&addr, &len));
    T(len);
    T(addr.sun_family);
    len = sizeof addr;
    T(getpeername(s[1], (struct sockaddr *)&addr, &len));
    T(len);
    T(send(s[0], "hello", 5, 0));
    T(recv(s[1], b, sizeof b, MSG_PEEK));
    T(recv(s[1], b, 2, 0));
    SAY("got %.2s\n", b);
    T(read(s[1], b, sizeof b));
    T(recv(s[1], b, sizeof b, MSG_DONTWAIT));
    T(write(s[1], "back", 4));
    len = sizeof addr;
    T(recvfrom(s[0], b, sizeof b, 0, (struct sockaddr *)&addr, &len));
    T(len);
    struct pollfd pfd = {s[0], POLLIN | POLLOUT, 0};
    T(poll(&pfd, 1, 0));
    T(pfd.revents);
    T(shutdown(s[1], SHUT_WR));
    T(recv(s[0], b, sizeof b, 0));
    T(send(s[1], "x", 1, MSG_NOSIGNAL));
    T(shutdown(s[1], 7));
    T(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, d));
    T(fcntl(d[0], F_GETFL) & (O_ACCMODE | O_NONBLOCK));
    T(send(d[0], "one", 3, 0));
    T(send(d[0], "two!", 4, 0));
    T(recv(d[1], b, 2, 0));
    T(recv(d[1], b, sizeof b, 0));
    T(recv(d[1], b, sizeof b, 0));
    T(socketpair(AF_INET, SOCK_STREAM, 0, d));
    T(socketpair(AF_UNIX, SOCK_STREAM, 7, d));
#ifdef __x86_64__ /* qemu-user drops type flags it does not know: Linux refuses them */
    T(socketpair(AF_UNIX, 0x4000000 | SOCK_STREAM, 0, d));
#endif
    int fd = T(open("f.txt", O_CREAT | O_RDWR, 0644));
    T(send(fd, "x", 1, 0));
    T(getsockname(fd, (struct sockaddr *)&addr, &len));
    T(shutdown(fd, SHUT_RD));
    T(send(99, "x", 1, 0));
    return 0;
}
