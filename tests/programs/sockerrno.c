/* The results and errnos of socket calls that fail or whose effect shows only later (options,
   shutdown, non-blocking, timeouts, truncated addresses and control data, poll and select),
   one line each, nothing that depends on ports or pids: native, recorded and replayed runs
   must print the same. Every wait ends by itself, but in `threads` mode, where a thread
   waits in accept, poll, recv, recvfrom, recvmsg and epoll_wait while the main thread
   computes without a system call before it gives what the wait needs. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s: %ld\n", what, r);
    errno = 0;
}

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int port_of(int fd) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    return ntohs(a.sin_port);
}

static int int_option(int fd, int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(fd, level, name, &v, &len) < 0)
        return -errno;
    return v;
}

/* A listening TCP socket on 127.0.0.1, a client connected to it and the accepted end. */
static void tcp_pair(int *listener, int *client, int *server) {
    struct sockaddr_in a = loopback(0);
    *listener = socket(AF_INET, SOCK_STREAM, 0);
    bind(*listener, (struct sockaddr *)&a, sizeof a);
    listen(*listener, 4);
    a = loopback(port_of(*listener));
    *client = socket(AF_INET, SOCK_STREAM, 0);
    show("connect to a listener", connect(*client, (struct sockaddr *)&a, sizeof a));
    *server = accept(*listener, NULL, NULL);
}

static void refusals(void) {
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(0);
    bind(probe, (struct sockaddr *)&a, sizeof a);
    int port = port_of(probe);
    close(probe);  /* nobody listens on `port` now */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    a = loopback(port);
    show("connect to a closed port", connect(s, (struct sockaddr *)&a, sizeof a));
    show("SO_ERROR after it", int_option(s, SOL_SOCKET, SO_ERROR));
    close(s);

    int l = socket(AF_INET, SOCK_STREAM, 0);
    a = loopback(0);
    bind(l, (struct sockaddr *)&a, sizeof a);
    listen(l, 1);
    int dup = socket(AF_INET, SOCK_STREAM, 0);
    a = loopback(port_of(l));
    show("bind to a used port", bind(dup, (struct sockaddr *)&a, sizeof a));
    show("bind with a short length", bind(dup, (struct sockaddr *)&a, 4));
    show("accept on a socket not listening", accept(dup, NULL, NULL));
    show("accept4 with unknown flags", accept4(l, NULL, NULL, 0x1));
    show("getpeername unconnected", getpeername(dup, (struct sockaddr *)&a, &(socklen_t){sizeof a}));
    show("shutdown unconnected", shutdown(dup, SHUT_RDWR));
    show("shutdown bad how", shutdown(l, 7));
    show("send unconnected", send(dup, "x", 1, MSG_NOSIGNAL));
    show("listen on a listener again", listen(l, 2));
    fcntl(l, F_SETFL, O_NONBLOCK);
    show("accept nothing pending, non-blocking", accept(l, NULL, NULL));
    close(dup);
    close(l);

    int u = socket(AF_INET, SOCK_DGRAM, 0);
    show("listen on UDP", listen(u, 1));
    show("sendto UDP without address", sendto(u, "x", 1, 0, NULL, 0));
    show("send on fd 1000", send(1000, "x", 1, 0));
    show("getsockopt on a non-socket", int_option(0 + open("/dev/null", O_RDONLY), SOL_SOCKET, SO_TYPE));
    show("getsockopt unknown option", int_option(u, SOL_SOCKET, 9999));
    show("setsockopt short value", setsockopt(u, SOL_SOCKET, SO_REUSEADDR, "x", 1));
    show("socket bad type", socket(AF_INET, 77, 0));
    show("socket bad protocol", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
    close(u);

    struct sockaddr_un un = {.sun_family = AF_UNIX};
    strcpy(un.sun_path, "/nonexistent-dir-ttdbg/sock");
    int us = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect to a missing Unix path", connect(us, (struct sockaddr *)&un, sizeof un));
    close(us);
}

static void options(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    show("SO_TYPE", int_option(s, SOL_SOCKET, SO_TYPE));
    show("SO_REUSEADDR before", int_option(s, SOL_SOCKET, SO_REUSEADDR));
    show("set SO_REUSEADDR", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int)));
    show("SO_REUSEADDR after", int_option(s, SOL_SOCKET, SO_REUSEADDR));
    show("set SO_RCVBUF 10000", setsockopt(s, SOL_SOCKET, SO_RCVBUF, &(int){10000}, sizeof(int)));
    show("SO_RCVBUF (doubled)", int_option(s, SOL_SOCKET, SO_RCVBUF));
    show("set TCP_NODELAY", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int)));
    show("TCP_NODELAY", int_option(s, IPPROTO_TCP, TCP_NODELAY));
    show("SO_ACCEPTCONN", int_option(s, SOL_SOCKET, SO_ACCEPTCONN));
    unsigned char one = 0xAA;
    socklen_t len = 1;
    show("SO_TYPE into 1 byte", getsockopt(s, SOL_SOCKET, SO_TYPE, &one, &len));
    printf("  byte %d length %u\n", one, len);
    len = 0;
    show("SO_TYPE into 0 bytes", getsockopt(s, SOL_SOCKET, SO_TYPE, &one, &len));
    printf("  length %u\n", len);
    struct linger lg = {1, 3};
    show("set SO_LINGER", setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    memset(&lg, 0, sizeof lg);
    len = sizeof lg;
    show("SO_LINGER", getsockopt(s, SOL_SOCKET, SO_LINGER, &lg, &len));
    printf("  on %d seconds %d length %u\n", lg.l_onoff, lg.l_linger, len);
    struct stat st;
    fstat(s, &st);
    printf("fstat is a socket: %d\n", S_ISSOCK(st.st_mode));
    close(s);
}

static void exchanges(void) {
    int l, c, s;
    tcp_pair(&l, &c, &s);
    char buf[64];
    fcntl(s, F_SETFL, O_NONBLOCK);
    show("recv empty non-blocking", recv(s, buf, sizeof buf, 0));
    show("recv MSG_DONTWAIT empty", recv(c, buf, sizeof buf, MSG_DONTWAIT));
    struct timeval tv = {0, 20000};
    show("set SO_RCVTIMEO", setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    show("recv past SO_RCVTIMEO", recv(c, buf, sizeof buf, 0));
    struct sockaddr_in a = loopback(1);
    show("sendto connected TCP with address", sendto(c, "ab", 2, 0, (struct sockaddr *)&a, sizeof a));
    show("send", send(c, "hello", 5, 0));
    struct pollfd pf = {s, POLLIN | POLLOUT, 0};
    int n = 0;
    for (int i = 0; i < 1000 && !(pf.revents & POLLIN); i++)
        n = poll(&pf, 1, 100);
    printf("poll: %d revents %#x\n", n, pf.revents);
    show("FIONREAD", ioctl(s, FIONREAD, &n) < 0 ? -1 : n);
    show("recv MSG_PEEK", recv(s, buf, 2, MSG_PEEK));
    show("recv", recv(s, buf, sizeof buf, 0));
    printf("  got %.5s\n", buf);
    show("shutdown SHUT_WR", shutdown(c, SHUT_WR));
    show("send after SHUT_WR", send(c, "x", 1, MSG_NOSIGNAL));
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(s, &rd);
    struct timeval wait = {10, 0};
    show("select sees the end", select(s + 1, &rd, NULL, NULL, &wait));
    show("recv after the peer's SHUT_WR", recv(s, buf, sizeof buf, 0));
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = 7}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
    show("epoll_wait", epoll_wait(ep, &out, 1, 10000));
    printf("  events %#x data %u\n", out.events, out.data.u32);
    close(ep);
    close(c);
    close(s);

    /* A connection the server has not accepted yet: poll on the listener says POLLIN. */
    c = socket(AF_INET, SOCK_STREAM, 0);
    a = loopback(port_of(l));
    connect(c, (struct sockaddr *)&a, sizeof a);
    pf = (struct pollfd){l, POLLIN, 0};
    show("poll on a listener with one pending", poll(&pf, 1, 10000));
    printf("  revents %#x\n", pf.revents);
    struct sockaddr_in peer;
    socklen_t plen = 3; /* shorter than the address: cut, its whole length told */
    memset(&peer, 0xEE, sizeof peer);
    s = accept(l, (struct sockaddr *)&peer, &plen);
    printf("accept with a 3-byte address room: %d length %u family %d next byte %#x\n", s >= 0,
           plen, peer.sin_family, ((unsigned char *)&peer)[3]);
    close(s);
    close(c);
    close(l);
}

static void datagrams(void) {
    int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in addr = loopback(0);
    bind(a, (struct sockaddr *)&addr, sizeof addr);
    addr = loopback(port_of(a));
    show("sendto 10 bytes", sendto(b, "0123456789", 10, 0, (struct sockaddr *)&addr, sizeof addr));
    char buf[4];
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    show("recvfrom MSG_TRUNC into 4", recvfrom(a, buf, sizeof buf, MSG_TRUNC, (struct sockaddr *)&from, &flen));
    printf("  %.4s from length %u family %d\n", buf, flen, from.sin_family);
    char none[2] = {'A', 'B'};
    sendto(b, "0123456789", 10, 0, (struct sockaddr *)&addr, sizeof addr);
    show("recv MSG_TRUNC into 0", recv(a, none, 0, MSG_TRUNC));
    sendto(b, "0123456789", 10, 0, (struct sockaddr *)&addr, sizeof addr);
    flen = sizeof from;
    show("recvfrom MSG_TRUNC into 0", recvfrom(a, none + 1, 0, MSG_TRUNC, (struct sockaddr *)&from, &flen));
    printf("  buffer still %c%c\n", none[0], none[1]);
    sendto(b, "abcdef", 6, 0, (struct sockaddr *)&addr, sizeof addr);
    struct iovec iov = {buf, sizeof buf};
    struct msghdr msg = {.msg_name = &from, .msg_namelen = 2, .msg_iov = &iov, .msg_iovlen = 1};
    show("recvmsg into 4, name room 2", recvmsg(a, &msg, 0));
    printf("  %.4s namelen %u flags %#x\n", buf, msg.msg_namelen, msg.msg_flags);
    sendto(b, "xyz", 3, 0, (struct sockaddr *)&addr, sizeof addr);
    msg = (struct msghdr){.msg_namelen = 99, .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_controllen = 77};
    show("recvmsg without name or control buffers", recvmsg(a, &msg, 0));
    printf("  namelen %u controllen %zu\n", msg.msg_namelen, (size_t)msg.msg_controllen);
    msg.msg_iovlen = 1025;
    show("recvmsg 1025 iovecs", recvmsg(a, &msg, MSG_DONTWAIT));
    msg.msg_name = &addr;
    msg.msg_namelen = sizeof addr;
    show("sendmsg 1025 iovecs", sendmsg(b, &msg, 0));
    msg.msg_iovlen = 1;
    msg.msg_namelen = 200;
    show("sendmsg name length 200", sendmsg(b, &msg, 0));
    show("recv empty UDP non-blocking", recv(a, buf, sizeof buf, MSG_DONTWAIT));
    close(a);
    close(b);

    /* Unix datagrams with the sender's credentials: the pid is the sender's own. */
    int sv[2];
    show("socketpair", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    show("set SO_PASSCRED", setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &(int){1}, sizeof(int)));
    struct ucred cred;
    socklen_t clen = sizeof cred;
    show("SO_PEERCRED", getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cred, &clen));
    printf("  peer pid is mine: %d uid is mine: %d\n", cred.pid == getpid(), cred.uid == getuid());
    send(sv[0], "cred", 4, 0);
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } control;
    char body[8];
    struct iovec biov = {body, sizeof body};
    struct msghdr cm = {.msg_iov = &biov, .msg_iovlen = 1, .msg_control = control.buf,
                        .msg_controllen = sizeof control.buf};
    show("recvmsg with credentials", recvmsg(sv[1], &cm, 0));
    struct cmsghdr *h = CMSG_FIRSTHDR(&cm);
    if (h && h->cmsg_type == SCM_CREDENTIALS) {
        memcpy(&cred, CMSG_DATA(h), sizeof cred);
        printf("  controllen %zu sender pid is mine: %d\n", (size_t)cm.msg_controllen,
               cred.pid == getpid());
    } else {
        printf("  no credentials, controllen %zu flags %#x\n", (size_t)cm.msg_controllen,
               cm.msg_flags);
    }
    send(sv[0], "cred", 4, 0);
    cm.msg_controllen = 8; /* too small for the header and data: MSG_CTRUNC */
    show("recvmsg with 8 bytes of control room", recvmsg(sv[1], &cm, 0));
    printf("  controllen %zu flags %#x\n", (size_t)cm.msg_controllen, cm.msg_flags);
    close(sv[0]);
    show("send to a closed peer", send(sv[1], "x", 1, MSG_NOSIGNAL));
    close(sv[1]);
}

static volatile unsigned long sink;

/* Work with no system call in it: only the recorder's scheduler can let the waiter run. */
static void compute(void) {
    for (unsigned long i = 0; i < 300000; i++)
        sink += i * i;
}

static int listener_fd, udp_fd;

static void *waiter(void *arg) {
    (void)arg;
    char buf[16];
    int conn = accept(listener_fd, NULL, NULL);
    printf("waiter: accepted %d\n", conn >= 0);
    struct pollfd pf = {conn, POLLIN, 0};
    int n = poll(&pf, 1, -1);
    printf("waiter: poll %d revents %#x\n", n, pf.revents);
    /* The stream may bring several sends at once: each read takes its own send's length. */
    printf("waiter: recv %zd\n", recv(conn, buf, 13, MSG_WAITALL));
    struct iovec iov = {buf, 7};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    printf("waiter: recvmsg %zd\n", recvmsg(conn, &msg, MSG_WAITALL));
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    printf("waiter: recvfrom %zd from length %u\n",
           recvfrom(udp_fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen), flen);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 5}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, conn, &ev);
    n = epoll_wait(ep, &out, 1, -1);
    printf("waiter: epoll_wait %d data %u\n", n, out.data.u32);
    /* Linux ends a blocking MSG_WAITALL receive early only for a signal or an error; a
       recording may end it early while another thread could run (see sockets.py): the
       count of reads is not printed. */
    size_t got = 0;
    while (got < 16) {
        ssize_t r = recv(conn, buf, 16 - got, MSG_WAITALL);
        if (r <= 0)
            break;
        got += r;
    }
    printf("waiter: received %zu more\n", got);
    close(ep);
    close(conn);
    return NULL;
}

static void threads(void) {
    struct sockaddr_in a = loopback(0);
    listener_fd = socket(AF_INET, SOCK_STREAM, 0);
    bind(listener_fd, (struct sockaddr *)&a, sizeof a);
    listen(listener_fd, 1);
    udp_fd = socket(AF_INET, SOCK_DGRAM, 0);
    bind(udp_fd, (struct sockaddr *)&a, sizeof a);
    struct sockaddr_in to = loopback(port_of(udp_fd));
    pthread_t t;
    pthread_create(&t, NULL, waiter, NULL);
    compute();
    int c = socket(AF_INET, SOCK_STREAM, 0);
    a = loopback(port_of(listener_fd));
    connect(c, (struct sockaddr *)&a, sizeof a);
    compute();
    send(c, "for poll+recv", 13, 0);
    compute();
    send(c, "recvmsg", 7, 0);
    compute();
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    sendto(u, "datagram", 8, 0, (struct sockaddr *)&to, sizeof to);
    compute();
    send(c, "epoll", 5, 0);
    compute();
    send(c, "waitall", 7, 0);
    compute();
    send(c, "+four", 4, 0);
    pthread_join(t, NULL);
    printf("main: computed %d\n", sink != 0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "threads") == 0) {
        threads();
        return 0;
    }
    refusals();
    options();
    exchanges();
    datagrams();
    printf("done\n");
    return 0;
}
