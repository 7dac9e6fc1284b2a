/* Real sockets, each end a thread of this program: a TCP echo server and its client on
   127.0.0.1 (port 0, found with getsockname), a non-blocking connect, a UDP exchange, a Unix
   stream socket at a path under the directory given, an epoll loop; or, as `client PORT`, the
   client of a TCP echo server elsewhere. Prints only what does not depend on the ports. */
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
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define CHECK(x)                                                                               \
    do {                                                                                       \
        if (!(x)) {                                                                            \
            printf("FAILED %s at line %d: %s\n", #x, __LINE__, strerror(errno));               \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

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
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    CHECK(len == sizeof a && a.sin_family == AF_INET);
    return ntohs(a.sin_port);
}

/* Echo everything one connection sends until it shuts down its side. */
static void echo(int conn) {
    char buf[512];
    ssize_t n;
    while ((n = recv(conn, buf, sizeof buf, 0)) > 0) {
        ssize_t done = 0;
        while (done < n) {
            ssize_t w = send(conn, buf + done, n - done, MSG_NOSIGNAL);
            CHECK(w > 0);
            done += w;
        }
    }
    CHECK(n == 0);
    close(conn);
}

static void *tcp_server(void *arg) {
    int listener = *(int *)arg;
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    /* Two connections: the blocking client's and the non-blocking one's. */
    for (int i = 0; i < 2; i++) {
        len = sizeof peer;
        int conn = accept4(listener, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
        CHECK(conn >= 0);
        CHECK(len == sizeof peer && peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
        echo(conn);
    }
    return NULL;
}

/* Send a line and read back exactly as many bytes. */
static void round_trip(int fd, const char *line) {
    char back[256];
    size_t n = strlen(line), got = 0;
    CHECK(send(fd, line, n, 0) == (ssize_t)n);
    while (got < n) {
        ssize_t r = recv(fd, back + got, sizeof back - got, 0);
        CHECK(r > 0);
        got += r;
    }
    printf("echoed %zu: %.*s\n", got, (int)got, back);
}

static void tcp(void) {
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(listener >= 0);
    int one = 1;
    CHECK(setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
    struct sockaddr_in any = loopback(0);
    CHECK(bind(listener, (struct sockaddr *)&any, sizeof any) == 0);
    CHECK(listen(listener, 4) == 0);
    int port = port_of(listener);
    printf("tcp listening on an ephemeral port: %s\n", port > 0 ? "yes" : "no");
    pthread_t server;
    CHECK(pthread_create(&server, NULL, tcp_server, &listener) == 0);

    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(c >= 0);
    struct sockaddr_in to = loopback(port);
    CHECK(connect(c, (struct sockaddr *)&to, sizeof to) == 0);
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    CHECK(getpeername(c, (struct sockaddr *)&peer, &len) == 0);
    printf("connected to the server's port: %s\n", ntohs(peer.sin_port) == port ? "yes" : "no");
    CHECK(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    int value = 0, type = 0;
    len = sizeof value;
    CHECK(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &value, &len) == 0);
    len = sizeof type;
    CHECK(getsockopt(c, SOL_SOCKET, SO_TYPE, &type, &len) == 0);
    printf("nodelay %d, type %s, option length %u\n", value != 0,
           type == SOCK_STREAM ? "stream" : "other", len);
    for (int i = 0; i < 3; i++) {
        char line[64];
        snprintf(line, sizeof line, "message %d over tcp", i);
        round_trip(c, line);
    }
    /* One message in three pieces, back through recvmsg's two buffers. */
    struct iovec out[3] = {{"gath", 4}, {"ered ", 5}, {"write", 5}};
    struct msghdr m = {0};
    m.msg_iov = out;
    m.msg_iovlen = 3;
    CHECK(sendmsg(c, &m, 0) == 14);
    /* Into two buffers, 5 bytes and the rest, however the echo arrives. */
    char all[15] = {0};
    size_t got = 0;
    while (got < 14) {
        size_t second = got > 5 ? got : 5;
        struct iovec in[2] = {{all + got, got < 5 ? 5 - got : 0}, {all + second, 14 - second}};
        struct msghdr r = {0};
        r.msg_iov = in;
        r.msg_iovlen = 2;
        ssize_t n = recvmsg(c, &r, 0);
        CHECK(n > 0);
        got += n;
    }
    printf("recvmsg: [%.5s] [%s]\n", all, all + 5);
    CHECK(shutdown(c, SHUT_WR) == 0);
    char tail;
    printf("after shutdown: recv %zd\n", recv(c, &tail, 1, 0));
    close(c);

    /* A non-blocking connect: under way, then writable, then no error. */
    int nb = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    CHECK(nb >= 0);
    int r = connect(nb, (struct sockaddr *)&to, sizeof to);
    printf("non-blocking connect: %s\n", r == 0 || errno == EINPROGRESS ? "under way" : "failed");
    struct pollfd pfd = {nb, POLLOUT, 0};
    CHECK(poll(&pfd, 1, 10000) == 1);
    int err = -1;
    len = sizeof err;
    CHECK(getsockopt(nb, SOL_SOCKET, SO_ERROR, &err, &len) == 0);
    printf("writable %d, SO_ERROR %d\n", (pfd.revents & POLLOUT) != 0, err);
    char x;
    errno = 0;
    ssize_t none = recv(nb, &x, 1, 0);
    printf("recv with nothing there: %zd %s\n", none, errno == EAGAIN ? "EAGAIN" : "?");
    int flags = fcntl(nb, F_GETFL);
    CHECK(fcntl(nb, F_SETFL, flags & ~O_NONBLOCK) == 0);
    round_trip(nb, "after the non-blocking connect");
    close(nb);
    CHECK(pthread_join(server, NULL) == 0);
    close(listener);

    /* Nobody listens there any more. */
    int refused = socket(AF_INET, SOCK_STREAM, 0);
    errno = 0;
    r = connect(refused, (struct sockaddr *)&to, sizeof to);
    printf("connect to a closed port: %d %s\n", r, errno == ECONNREFUSED ? "ECONNREFUSED" : "?");
    close(refused);
}

static void udp(void) {
    int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    CHECK(a >= 0 && b >= 0);
    struct sockaddr_in any = loopback(0);
    CHECK(bind(a, (struct sockaddr *)&any, sizeof any) == 0);
    CHECK(bind(b, (struct sockaddr *)&any, sizeof any) == 0);
    struct sockaddr_in to_b = loopback(port_of(b));
    char buf[64];
    errno = 0;
    ssize_t none = recv(b, buf, sizeof buf, 0);
    printf("udp recv before any datagram: %zd %s\n", none, errno == EAGAIN ? "EAGAIN" : "?");
    CHECK(sendto(a, "datagram one", 12, 0, (struct sockaddr *)&to_b, sizeof to_b) == 12);
    CHECK(sendto(a, "two", 3, 0, (struct sockaddr *)&to_b, sizeof to_b) == 3);
    struct pollfd pfd = {b, POLLIN, 0};
    CHECK(poll(&pfd, 1, 10000) == 1);
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
    printf("udp got %zd [%.*s] from a: %s\n", n, (int)n, buf,
           ntohs(from.sin_port) == port_of(a) ? "yes" : "no");
    n = recv(b, buf, 1, 0); /* a datagram cut short: the rest is gone */
    printf("udp cut: %zd [%.*s]\n", n, (int)n, buf);
    /* Back to a through sendmsg with an address, received with recvmsg and its name. */
    struct sockaddr_in to_a = loopback(port_of(a));
    struct iovec v = {"reply", 5};
    struct msghdr m = {0};
    m.msg_name = &to_a;
    m.msg_namelen = sizeof to_a;
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    CHECK(sendmsg(b, &m, 0) == 5);
    char small[3];
    struct iovec rv = {small, sizeof small};
    struct msghdr r = {0};
    r.msg_name = &from;
    r.msg_namelen = sizeof from;
    r.msg_iov = &rv;
    r.msg_iovlen = 1;
    n = recvmsg(a, &r, 0);
    printf("recvmsg %zd [%.*s] truncated %d, from b: %s, name length %u\n", n, (int)n, small,
           (r.msg_flags & MSG_TRUNC) != 0, ntohs(from.sin_port) == port_of(b) ? "yes" : "no",
           r.msg_namelen);
    close(a);
    close(b);
}

static void *unix_server(void *arg) {
    int listener = *(int *)arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev) == 0);
    struct epoll_event ready;
    CHECK(epoll_wait(ep, &ready, 1, 10000) == 1 && ready.data.u32 == 7);
    int conn = accept(listener, NULL, NULL);
    CHECK(conn >= 0);
    close(ep);
    echo(conn);
    return NULL;
}

static void unix_stream(const char *dir) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s/echo.sock", dir);
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(listener >= 0);
    CHECK(bind(listener, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK(listen(listener, 1) == 0);
    pthread_t server;
    CHECK(pthread_create(&server, NULL, unix_server, &listener) == 0);
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(c >= 0);
    CHECK(connect(c, (struct sockaddr *)&addr, sizeof addr) == 0);
    struct sockaddr_un peer;
    socklen_t len = sizeof peer;
    CHECK(getpeername(c, (struct sockaddr *)&peer, &len) == 0);
    printf("unix peer is the path: %s\n", strcmp(peer.sun_path, addr.sun_path) == 0 ? "yes" : "no");
    round_trip(c, "over a unix socket");
    round_trip(c, "and again");
    CHECK(shutdown(c, SHUT_WR) == 0);
    CHECK(pthread_join(server, NULL) == 0);
    close(c);
    close(listener);
    CHECK(unlink(addr.sun_path) == 0);
}

/* A connect that waits: the listener's queue (backlog 0) holds the first connection, so the
   second one's SYN is dropped until this thread accepts, and its connect retries. */
static int waiting_port, ready_pipe[2];

static void *second_client(void *arg) {
    (void)arg;
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(c >= 0);
    struct sockaddr_in to = loopback(waiting_port);
    CHECK(write(ready_pipe[1], "x", 1) == 1);
    CHECK(connect(c, (struct sockaddr *)&to, sizeof to) == 0);
    CHECK(send(c, "second", 6, 0) == 6);
    close(c);
    return NULL;
}

static void backlog(void) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(listener >= 0);
    struct sockaddr_in any = loopback(0);
    CHECK(bind(listener, (struct sockaddr *)&any, sizeof any) == 0);
    CHECK(listen(listener, 0) == 0);
    waiting_port = port_of(listener);
    struct sockaddr_in to = loopback(waiting_port);
    int first = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(first >= 0 && connect(first, (struct sockaddr *)&to, sizeof to) == 0);
    CHECK(pipe(ready_pipe) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, second_client, NULL) == 0);
    char x;
    CHECK(read(ready_pipe[0], &x, 1) == 1);
    int a = accept(listener, NULL, NULL), b = accept(listener, NULL, NULL);
    CHECK(a >= 0 && b >= 0);
    char buf[16] = {0};
    size_t got = 0;
    ssize_t n;
    while ((n = recv(b, buf + got, sizeof buf - 1 - got, 0)) > 0)
        got += n;
    CHECK(pthread_join(t, NULL) == 0);
    printf("second connection accepted, sent [%s]\n", buf);
}

/* A receive with SO_RCVTIMEO ends with EAGAIN while another thread waits in accept. */
static void *accept_one(void *arg) {
    int conn = accept(*(int *)arg, NULL, NULL);
    CHECK(conn >= 0);
    close(conn);
    return NULL;
}

static void receive_timeout(void) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(listener >= 0);
    struct sockaddr_in any = loopback(0);
    CHECK(bind(listener, (struct sockaddr *)&any, sizeof any) == 0 && listen(listener, 1) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, accept_one, &listener) == 0);
    int s[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
    struct timeval tv = {0, 200000};
    CHECK(setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    char x;
    errno = 0;
    ssize_t n = recv(s[0], &x, 1, 0);
    printf("recv with SO_RCVTIMEO: %zd %s\n", n, errno == EAGAIN ? "EAGAIN" : "?");
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = loopback(port_of(listener));
    CHECK(c >= 0 && connect(c, (struct sockaddr *)&to, sizeof to) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    close(c);
    close(s[0]);
    close(s[1]);
    close(listener);
}

/* A megabyte through write() to a socket and to a pipe whose reader is another thread: far
   more than either holds, so the writer waits for the reader again and again. */
static void *drain(void *arg) {
    int fd = *(int *)arg;
    char buf[4096];
    long total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        total += n;
    CHECK(n == 0);
    return (void *)total;
}

static void bulk(void) {
    static char big[1 << 20];
    memset(big, 'x', sizeof big);
    int s[2], fds[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0 && pipe(fds) == 0);
    int ends[2][2] = {{s[0], s[1]}, {fds[1], fds[0]}};
    for (int i = 0; i < 2; i++) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, drain, &ends[i][1]) == 0);
        long done = 0;
        while (done < (long)sizeof big) {
            ssize_t w = write(ends[i][0], big + done, sizeof big - done);
            CHECK(w > 0);
            done += w;
        }
        close(ends[i][0]);
        void *total;
        CHECK(pthread_join(t, &total) == 0);
        printf("%s: wrote %ld, read %ld\n", i ? "pipe" : "socket", done, (long)total);
    }
}

/* Descriptors passed over a Unix socket (SCM_RIGHTS): a pipe's read end and a socket. */
static void pass_fds(void) {
    int s[2], pp[2], q[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0 && pipe(pp) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, q) == 0);
    CHECK(write(pp[1], "through a passed pipe", 21) == 21);
    close(pp[1]);
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } out, in;
    memset(&out, 0, sizeof out);
    struct iovec v = {"fds", 3};
    struct msghdr m = {0};
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_control = out.buf;
    m.msg_controllen = sizeof out.buf;
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(2 * sizeof(int));
    int pass[2] = {pp[0], 999};
    memcpy(CMSG_DATA(h), pass, sizeof pass);
    errno = 0;
    ssize_t bad = sendmsg(s[0], &m, 0);
    printf("passing an fd that is not open: %zd %s\n", bad, errno == EBADF ? "EBADF" : "?");
    pass[1] = q[1];
    memcpy(CMSG_DATA(h), pass, sizeof pass);
    CHECK(sendmsg(s[0], &m, 0) == 3);
    close(pp[0]);
    close(q[1]);
    char buf[8];
    struct iovec rv = {buf, sizeof buf};
    struct msghdr r = {0};
    r.msg_iov = &rv;
    r.msg_iovlen = 1;
    r.msg_control = in.buf;
    r.msg_controllen = sizeof in.buf;
    ssize_t n = recvmsg(s[1], &r, MSG_CMSG_CLOEXEC);
    struct cmsghdr *g = CMSG_FIRSTHDR(&r);
    CHECK(g && g->cmsg_level == SOL_SOCKET && g->cmsg_type == SCM_RIGHTS);
    int got[2];
    memcpy(got, CMSG_DATA(g), sizeof got);
    printf("recvmsg %zd [%.*s], fds %d %d, close-on-exec %d, control %zu of %zu\n", n, (int)n,
           buf, got[0], got[1], fcntl(got[0], F_GETFD), (size_t)r.msg_controllen,
           sizeof in.buf);
    char text[64];
    ssize_t t = read(got[0], text, sizeof text);
    printf("read through the passed pipe: %.*s\n", (int)t, text);
    CHECK(write(got[1], "via the passed socket", 21) == 21);
    t = read(q[0], text, sizeof text);
    printf("read from the socket's peer: %.*s\n", (int)t, text);
    close(got[0]);
    close(got[1]);
    close(q[0]);
    close(s[0]);
    close(s[1]);
}

static volatile int sigpipes;

static void count_sigpipe(int sig) {
    (void)sig;
    sigpipes++;
}

/* EPIPE, and SIGPIPE unless MSG_NOSIGNAL, on a stream socket and a pipe nobody reads. */
static void broken_pipes(void) {
    signal(SIGPIPE, count_sigpipe);
    int s[2], fds[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0 && pipe(fds) == 0);
    close(s[1]);
    close(fds[0]);
    ssize_t r1 = send(s[0], "x", 1, 0);
    int e1 = errno, n1 = sigpipes;
    ssize_t r2 = send(s[0], "x", 1, MSG_NOSIGNAL);
    int e2 = errno, n2 = sigpipes;
    ssize_t r3 = write(s[0], "x", 1);
    int e3 = errno, n3 = sigpipes;
    ssize_t r4 = write(fds[1], "x", 1);
    int e4 = errno, n4 = sigpipes;
    printf("send %zd %s %d, nosignal %zd %s %d, write %zd %s %d, pipe %zd %s %d\n", r1,
           e1 == EPIPE ? "EPIPE" : "?", n1, r2, e2 == EPIPE ? "EPIPE" : "?", n2, r3,
           e3 == EPIPE ? "EPIPE" : "?", n3, r4, e4 == EPIPE ? "EPIPE" : "?", n4);
    signal(SIGPIPE, SIG_DFL);
    close(s[0]);
    close(fds[1]);
}

static void client(int port) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(c >= 0);
    struct sockaddr_in to = loopback(port);
    CHECK(connect(c, (struct sockaddr *)&to, sizeof to) == 0);
    for (int i = 0; i < 3; i++) {
        char line[64];
        snprintf(line, sizeof line, "hello %d", i);
        round_trip(c, line);
    }
    CHECK(shutdown(c, SHUT_WR) == 0);
    char tail[64];
    ssize_t n = recv(c, tail, sizeof tail, 0);
    printf("server's last words: %zd\n", n);
    close(c);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "client") == 0) {
        client(atoi(argv[2]));
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "backlog") == 0) {
        backlog();
        receive_timeout();
        bulk();
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "families") == 0) {
        errno = 0;
        int s = socket(AF_NETLINK, SOCK_RAW, 0);
        printf("netlink: %d %s\n", s, strerror(errno));
        errno = 0;
        s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
        printf("raw: %d %s\n", s, strerror(errno));
        return 0;
    }
    if (argc != 3 || strcmp(argv[1], "all") != 0) {
        fprintf(stderr, "usage: netecho all DIR | client PORT | backlog | families\n");
        return 2;
    }
    tcp();
    udp();
    unix_stream(argv[2]);
    broken_pipes();
    pass_fds();
    printf("done\n");
    return 0;
}
