/* Thread scenarios whose output is deterministic natively (except `racy`), one per argv[1]. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <signal.h>
#include <sys/epoll.h>
#include <time.h>
#include <sys/prctl.h>
#include <poll.h>
#include <sys/select.h>
#include <errno.h>

#define WORKERS 4
#define ITEMS 200

/* -- a mutex- and condvar-protected work queue ------------------------------------------ */
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_nonempty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t q_nonfull = PTHREAD_COND_INITIALIZER;
static int queue[8], q_head, q_len, q_done;
static long results[ITEMS];

static long work(int item) {
    long x = item;
    for (int i = 0; i < 2000; i++) x = (x * 1103515245 + 12345) % 2147483648L;
    return x;
}

static void *worker(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&q_lock);
        while (q_len == 0 && !q_done) pthread_cond_wait(&q_nonempty, &q_lock);
        if (q_len == 0 && q_done) {
            pthread_mutex_unlock(&q_lock);
            return NULL;
        }
        int item = queue[q_head];
        q_head = (q_head + 1) % 8;
        q_len--;
        pthread_cond_signal(&q_nonfull);
        pthread_mutex_unlock(&q_lock);
        results[item] = work(item);
    }
}

static int workqueue(void) {
    pthread_t t[WORKERS];
    for (int i = 0; i < WORKERS; i++) pthread_create(&t[i], NULL, worker, NULL);
    for (int item = 0; item < ITEMS; item++) {
        pthread_mutex_lock(&q_lock);
        while (q_len == 8) pthread_cond_wait(&q_nonfull, &q_lock);
        queue[(q_head + q_len) % 8] = item;
        q_len++;
        pthread_cond_signal(&q_nonempty);
        pthread_mutex_unlock(&q_lock);
    }
    pthread_mutex_lock(&q_lock);
    q_done = 1;
    pthread_cond_broadcast(&q_nonempty);
    pthread_mutex_unlock(&q_lock);
    for (int i = 0; i < WORKERS; i++) pthread_join(t[i], NULL);
    long sum = 0;
    for (int i = 0; i < ITEMS; i++) sum += results[i] % 1000;
    printf("workqueue: %d items, checksum %ld, item 7 -> %ld\n", ITEMS, sum, results[7]);
    return 0;
}

/* -- a barrier between phases ------------------------------------------------------------ */
static pthread_barrier_t barrier;
static int phase_values[WORKERS][3];

static void *phased(void *arg) {
    int id = (int)(long)arg;
    for (int phase = 0; phase < 3; phase++) {
        int prev = phase ? phase_values[(id + 1) % WORKERS][phase - 1] : id;
        phase_values[id][phase] = prev * 3 + phase;
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

static int barrier_test(void) {
    pthread_t t[WORKERS];
    pthread_barrier_init(&barrier, NULL, WORKERS);
    for (long i = 0; i < WORKERS; i++) pthread_create(&t[i], NULL, phased, (void *)i);
    for (int i = 0; i < WORKERS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < WORKERS; i++)
        printf("barrier: thread %d phases %d %d %d\n", i, phase_values[i][0], phase_values[i][1],
               phase_values[i][2]);
    return 0;
}

/* -- thread-local storage ---------------------------------------------------------------- */
static __thread int tls_value = 42;
static __thread char tls_name[16];

static void *tls_thread(void *arg) {
    int id = (int)(long)arg;
    int seen = tls_value; /* every thread starts from the initial image */
    tls_value = id * 100;
    snprintf(tls_name, sizeof tls_name, "thread-%d", id);
    sched_yield();
    usleep(1000);
    long ok = seen == 42 && tls_value == id * 100 && strcmp(tls_name, "thread-") > 0;
    return (void *)ok;
}

static int tls_test(void) {
    pthread_t t[WORKERS];
    tls_value = 7;
    for (long i = 0; i < WORKERS; i++) pthread_create(&t[i], NULL, tls_thread, (void *)(i + 1));
    int good = 0;
    for (int i = 0; i < WORKERS; i++) {
        void *ok;
        pthread_join(t[i], &ok);
        good += ok != NULL;
    }
    printf("tls: %d of %d threads saw their own values, main still %d\n", good, WORKERS,
           tls_value);
    return 0;
}

/* -- join of many threads ---------------------------------------------------------------- */
static void *square(void *arg) {
    long n = (long)arg;
    return (void *)(n * n);
}

static int join_many(void) {
    enum { N = 40 };
    pthread_t t[N];
    for (long i = 0; i < N; i++) pthread_create(&t[i], NULL, square, (void *)i);
    long sum = 0;
    for (int i = 0; i < N; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (long)r;
    }
    printf("join: %d threads, sum of squares %ld\n", N, sum);
    return 0;
}

/* -- a detached thread ------------------------------------------------------------------- */
static pthread_mutex_t d_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t d_cond = PTHREAD_COND_INITIALIZER;
static int d_done;
static long d_result;

static void *detached_thread(void *arg) {
    (void)arg;
    long r = work(99);
    pthread_mutex_lock(&d_lock);
    d_result = r;
    d_done = 1;
    pthread_cond_signal(&d_cond);
    pthread_mutex_unlock(&d_lock);
    return NULL;
}

static int detached(void) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&t, &attr, detached_thread, NULL);
    pthread_mutex_lock(&d_lock);
    while (!d_done) pthread_cond_wait(&d_cond, &d_lock);
    pthread_mutex_unlock(&d_lock);
    printf("detached: result %ld\n", d_result);
    return 0;
}

/* -- cancellation ------------------------------------------------------------------------ */
static pthread_mutex_t c_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c_cond = PTHREAD_COND_INITIALIZER;
static int c_started, c_cleanups;

static void cleanup(void *arg) {
    (void)arg;
    c_cleanups++;
    pthread_mutex_unlock(&c_lock);
}

static void *cancellable(void *arg) {
    (void)arg;
    pthread_mutex_lock(&c_lock);
    c_started = 1;
    pthread_cond_broadcast(&c_cond);
    pthread_cleanup_push(cleanup, NULL);
    for (;;) pthread_cond_wait(&c_cond, &c_lock); /* a cancellation point, forever */
    pthread_cleanup_pop(1);
    return NULL;
}

static void *sleeper(void *arg) {
    (void)arg;
    for (;;) sleep(1000);
    return NULL;
}

static int cancel(void) {
    pthread_t t, s;
    pthread_create(&t, NULL, cancellable, NULL);
    pthread_create(&s, NULL, sleeper, NULL);
    pthread_mutex_lock(&c_lock);
    while (!c_started) pthread_cond_wait(&c_cond, &c_lock);
    pthread_mutex_unlock(&c_lock);
    void *r1, *r2;
    pthread_cancel(t);
    pthread_join(t, &r1);
    pthread_cancel(s);
    pthread_join(s, &r2);
    printf("cancel: waiter %s, sleeper %s, cleanups %d\n",
           r1 == PTHREAD_CANCELED ? "cancelled" : "returned",
           r2 == PTHREAD_CANCELED ? "cancelled" : "returned", c_cleanups);
    return 0;
}

/* -- an unsynchronized counter (a data race on purpose) ---------------------------------- */
static volatile long counter;

static void *racer(void *arg) {
    long n = (long)arg;
    for (long i = 0; i < n; i++) counter = counter + 1;
    return NULL;
}

static int racy(long n) {
    pthread_t t[WORKERS];
    for (int i = 0; i < WORKERS; i++) pthread_create(&t[i], NULL, racer, (void *)n);
    for (int i = 0; i < WORKERS; i++) pthread_join(t[i], NULL);
    printf("racy: counter %ld of %ld\n", counter, n * WORKERS);
    return 0;
}

/* -- alternate signal stacks, one per thread (SA_ONSTACK) ---------------------------------- */
static __thread char *alt_base;
static __thread size_t alt_size;
static __thread int handled_on_alt, reported_onstack;

static void on_alt(int sig) {
    char here;
    stack_t now;
    (void)sig;
    handled_on_alt = alt_base && &here >= alt_base && &here < alt_base + alt_size;
    sigaltstack(NULL, &now);
    reported_onstack = (now.ss_flags & SS_ONSTACK) != 0;
}

static void *alt_thread(void *arg) {
    long id = (long)arg;
    if (id) { /* thread 0 keeps no alternate stack: its handler runs on the thread's stack */
        alt_size = 16384 * id;
        alt_base = malloc(alt_size);
        stack_t ss = {.ss_sp = alt_base, .ss_size = alt_size, .ss_flags = 0};
        sigaltstack(&ss, NULL);
    }
    pthread_kill(pthread_self(), SIGUSR1);
    stack_t after;
    sigaltstack(NULL, &after);
    long ok = handled_on_alt == (id != 0) && reported_onstack == (id != 0) &&
              (after.ss_flags & SS_ONSTACK) == 0 && (id == 0) == ((after.ss_flags & SS_DISABLE) != 0);
    return (void *)ok;
}

static int altstack(void) {
    struct sigaction sa = {.sa_handler = on_alt, .sa_flags = SA_ONSTACK};
    sigaction(SIGUSR1, &sa, NULL);
    pthread_t t[3];
    for (long i = 0; i < 3; i++) pthread_create(&t[i], NULL, alt_thread, (void *)i);
    for (int i = 0; i < 3; i++) {
        void *ok;
        pthread_join(t[i], &ok);
        printf("altstack: thread %d handler on %s stack: %s\n", i, i ? "its alternate" : "its own",
               ok ? "yes" : "no");
    }
    return 0;
}

/* -- thread names: prctl, pthread_setname_np, /proc/self/task/TID/comm -------------------- */
static pthread_barrier_t named;
static pid_t named_tids[3];

static void *named_thread(void *arg) {
    long id = (long)arg;
    char name[16];
    snprintf(name, sizeof name, "worker-%ld", id);
    prctl(PR_SET_NAME, name);
    named_tids[id] = (pid_t)syscall(SYS_gettid);
    pthread_barrier_wait(&named);
    pthread_barrier_wait(&named); /* main reads the names in between */
    return NULL;
}

static void print_comm(const char *label, const char *path) {
    char buf[32] = "";
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("names: %s: cannot open\n", label);
        return;
    }
    if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
    printf("names: %s: %s\n", label, buf);
}

static int names(void) {
    pthread_t t[3];
    pthread_barrier_init(&named, NULL, 4);
    prctl(PR_SET_NAME, "boss");
    for (long i = 0; i < 3; i++) pthread_create(&t[i], NULL, named_thread, (void *)i);
    pthread_barrier_wait(&named);
    char name[16], path[64];
    for (int i = 0; i < 3; i++) {
        pthread_getname_np(t[i], name, sizeof name);
        printf("names: thread %d is %s\n", i, name);
        snprintf(path, sizeof path, "/proc/self/task/%d/comm", named_tids[i]);
        print_comm("task comm", path);
    }
    prctl(PR_GET_NAME, name);
    printf("names: main is %s\n", name);
    print_comm("process comm", "/proc/self/comm");
    print_comm("thread-self comm", "/proc/thread-self/comm");
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", 999999);
    print_comm("no such thread", path);
    pthread_barrier_wait(&named);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    return 0;
}

/* -- a read that blocks on a pipe while the thread that writes it runs --------------------- */
static int pipe_fds[2];

static void *pipe_writer(void *arg) {
    long delay_ms = (long)arg;
    unsigned long x = 7;
    for (int i = 0; i < 300000; i++) x = x * 6364136223846793005UL + 1; /* several quanta */
    if (delay_ms) {
        struct timespec ts = {0, delay_ms * 1000000L};
        nanosleep(&ts, NULL); /* every thread waits: the recorder waits on the host */
    }
    char msg[32];
    int n = snprintf(msg, sizeof msg, "%lu", x % 100000);
    write(pipe_fds[1], msg, n);
    return NULL;
}

static int pipewait(void) {
    for (long delay = 0; delay <= 5; delay += 5) {
        pipe(pipe_fds);
        pthread_t t;
        pthread_create(&t, NULL, pipe_writer, (void *)delay);
        char buf[32] = "";
        ssize_t n = read(pipe_fds[0], buf, sizeof buf - 1); /* blocks until the writer writes */
        buf[n > 0 ? n : 0] = 0;
        pthread_join(t, NULL);
        printf("pipewait: delay %ld ms, read %zd bytes: %s\n", delay, n, buf);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
    }
    /* The same through epoll: the wait blocks until the writer writes. */
    pipe(pipe_fds);
    int ep = epoll_create1(0);
    struct epoll_event want = {.events = EPOLLIN, .data.u64 = 42}, got[2];
    epoll_ctl(ep, EPOLL_CTL_ADD, pipe_fds[0], &want);
    pthread_t t;
    pthread_create(&t, NULL, pipe_writer, (void *)0);
    int ready = epoll_wait(ep, got, 2, -1);
    int timed_out = epoll_wait(ep, got + 1, 1, 0) == 1 ? 0 : 1;
    pthread_join(t, NULL);
    printf("pipewait: epoll_wait %d ready, data %llu, again %d\n", ready,
           (unsigned long long)got[0].data.u64, timed_out ? 0 : 1);
    close(ep);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return 0;
}

/* -- poll, ppoll, select and pselect6 waits while the thread that writes runs --------------- */
static int pollwait(void) {
    for (int how = 0; how < 4; how++) {
        pipe(pipe_fds);
        pthread_t t;
        pthread_create(&t, NULL, pipe_writer, (void *)0);
        int ready;
        struct pollfd want = {.fd = pipe_fds[0], .events = POLLIN};
        struct timespec forever = {1000, 0};
        struct timeval tv = {1000, 0};
        fd_set in;
        FD_ZERO(&in);
        FD_SET(pipe_fds[0], &in);
        if (how == 0) ready = poll(&want, 1, -1);
        else if (how == 1) ready = ppoll(&want, 1, &forever, NULL);
        else if (how == 2) ready = select(pipe_fds[0] + 1, &in, NULL, NULL, &tv);
        else ready = pselect(pipe_fds[0] + 1, &in, NULL, NULL, &forever, NULL);
        int readable = how < 2 ? (want.revents & POLLIN) != 0 : FD_ISSET(pipe_fds[0], &in);
        pthread_join(t, NULL);
        char buf[32] = "";
        ssize_t n = read(pipe_fds[0], buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = 0;
        printf("pollwait: %s %d ready, readable %d, then read %s\n",
               (const char *[]){"poll", "ppoll", "select", "pselect"}[how], ready, readable, buf);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
    }
    /* Nothing comes on this pipe: the wait times out while the other thread computes. */
    int quiet[2];
    pipe(quiet);
    pipe(pipe_fds);
    pthread_t t;
    pthread_create(&t, NULL, pipe_writer, (void *)0);
    struct pollfd none = {.fd = quiet[0], .events = POLLIN};
    int ready = poll(&none, 1, 30);
    pthread_join(t, NULL);
    printf("pollwait: poll on a pipe nobody writes %d, revents %d\n", ready, none.revents);
    close(quiet[0]);
    close(quiet[1]);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return 0;
}

/* -- a signal for a thread blocked in read or poll: EINTR unless SA_RESTART restarts it ------ */
static volatile sig_atomic_t handled;
static int outcome[2];

static void on_usr1(int sig) {
    (void)sig;
    handled++;
}

static void *blocked_reader(void *arg) {
    long use_poll = (long)arg;
    char c;
    struct pollfd want = {.fd = pipe_fds[0], .events = POLLIN};
    int r = use_poll ? poll(&want, 1, -1) : (int)read(pipe_fds[0], &c, 1);
    outcome[0] = r;
    outcome[1] = r < 0 ? errno : 0;
    return NULL;
}

static int eintr(void) {
    const char *names[] = {"read without SA_RESTART", "read with SA_RESTART",
                           "poll with SA_RESTART"};
    for (int i = 0; i < 3; i++) {
        struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = i ? SA_RESTART : 0};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL);
        pipe(pipe_fds);
        pthread_t t;
        pthread_create(&t, NULL, blocked_reader, (void *)(long)(i == 2));
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL); /* the reader blocks meanwhile */
        pthread_kill(t, SIGUSR1);
        nanosleep(&ts, NULL);
        write(pipe_fds[1], "x", 1); /* a restarted read gets this */
        pthread_join(t, NULL);
        printf("eintr: %s: result %d, %s, handler ran %d\n", names[i], outcome[0],
               outcome[1] == EINTR ? "EINTR" : outcome[1] ? "other error" : "no error",
               (int)handled);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
    }
    return 0;
}

/* -- a signal for a thread waiting in ppoll, pselect or epoll_pwait: the call's own mask ------- */
static int waitmask_epoll;

static int wait_under(int call, const sigset_t *mask, int timeout_ms) {
    struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
    if (call == 0) {
        struct pollfd want = {.fd = pipe_fds[0], .events = POLLIN};
        return ppoll(&want, 1, &ts, mask);
    }
    if (call == 1) {
        fd_set readable;
        FD_ZERO(&readable);
        FD_SET(pipe_fds[0], &readable);
        return pselect(pipe_fds[0] + 1, &readable, NULL, NULL, &ts, mask);
    }
    struct epoll_event ev;
    return epoll_pwait(waitmask_epoll, &ev, 1, timeout_ms, mask);
}

static void *masked_waiter(void *arg) {
    long call = (long)arg >> 1, unblocks = (long)arg & 1;
    sigset_t usr1, during;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    /* Either SIGUSR1 is blocked and the call's mask lets it in, or the reverse. */
    pthread_sigmask(unblocks ? SIG_BLOCK : SIG_UNBLOCK, &usr1, NULL);
    if (unblocks) sigemptyset(&during);
    else during = usr1;
    int r = wait_under((int)call, &during, 3000);
    outcome[0] = r;
    outcome[1] = r < 0 ? errno : 0;
    return NULL;
}

/* `held_back`: also the cases where the call's mask holds the signal back until it returns
 * (qemu-user, the oracle off x86, loses that signal: those run on x86 only). */
static int waitmask(int held_back) {
    const char *calls[] = {"ppoll", "pselect", "epoll_pwait"};
    struct sigaction sa = {.sa_handler = on_usr1};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    for (int call = 0; call < 3; call++) {
        for (int unblocks = 1; unblocks >= !held_back; unblocks--) {
            pipe(pipe_fds);
            waitmask_epoll = epoll_create1(0);
            struct epoll_event ev = {.events = EPOLLIN, .data.fd = pipe_fds[0]};
            epoll_ctl(waitmask_epoll, EPOLL_CTL_ADD, pipe_fds[0], &ev);
            handled = 0;
            pthread_t t;
            pthread_create(&t, NULL, masked_waiter, (void *)(long)(call << 1 | unblocks));
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL); /* the waiter waits meanwhile */
            pthread_kill(t, SIGUSR1);
            nanosleep(&ts, NULL);
            if (!unblocks) write(pipe_fds[1], "x", 1); /* the call goes on: this ends it */
            pthread_join(t, NULL);
            printf("waitmask: %s, SIGUSR1 %s by its mask: result %d, %s, handler ran %d\n",
                   calls[call], unblocks ? "let in" : "held back", outcome[0],
                   outcome[1] == EINTR ? "EINTR" : outcome[1] ? "other error" : "no error",
                   (int)handled);
            close(waitmask_epoll);
            close(pipe_fds[0]);
            close(pipe_fds[1]);
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "";
    if (!strcmp(what, "workqueue")) return workqueue();
    if (!strcmp(what, "barrier")) return barrier_test();
    if (!strcmp(what, "tls")) return tls_test();
    if (!strcmp(what, "join")) return join_many();
    if (!strcmp(what, "detached")) return detached();
    if (!strcmp(what, "cancel")) return cancel();
    if (!strcmp(what, "altstack")) return altstack();
    if (!strcmp(what, "names")) return names();
    if (!strcmp(what, "pipewait")) return pipewait();
    if (!strcmp(what, "pollwait")) return pollwait();
    if (!strcmp(what, "eintr")) return eintr();
    if (!strcmp(what, "waitmask")) return waitmask(1);
    if (!strcmp(what, "waitmask-letin")) return waitmask(0);
    if (!strcmp(what, "racy")) return racy(argc > 2 ? atol(argv[2]) : 100000);
    fprintf(stderr, "usage: pthreads workqueue|barrier|tls|join|detached|cancel|altstack|names|pipewait|pollwait|eintr|waitmask|waitmask-letin|racy [N]\n");
    return 2;
}
