/* Reads a file through every call that takes or moves a file offset (readv, sendfile,
 * copy_file_range, preadv, preadv2, pwritev, pwritev2, writes to an O_APPEND file), for the
 * provenance test: got[] ends up holding bytes whose values name the offset each came from.
 * argv[1]: the data file (every byte distinct), argv[2]: a scratch file that is written, then
 * read (its bytes distinct from the data file's and from those appended here). Prints got[]. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <unistd.h>

static char got[40];
static char zz[2] = "zz", yy[2] = "yy";

static int readv2(int fd, char *a, int na, char *b, int nb) {
    struct iovec v[2] = {{a, (size_t)na}, {b, (size_t)nb}};
    return (int)readv(fd, v, 2);
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    int fd = open(argv[1], O_RDWR), out = open(argv[2], O_RDWR);
    if (fd < 0 || out < 0) return 1;
    struct iovec v;
    off_t off;
    if (readv2(fd, got, 2, got + 2, 3) != 5) return 3;            /* 0..4, fd at 5 */
    if (sendfile(out, fd, NULL, 3) != 3) return 4;                  /* fd 8, out 3 */
    if (read(fd, got + 5, 2) != 2) return 5;                        /* 8, 9 */
    if (copy_file_range(fd, NULL, out, NULL, 2, 0) != 2) return 6;  /* fd 12, out 5 */
    v = (struct iovec){got + 7, 3};
    if (preadv(fd, &v, 1, 1) != 3) return 7;                        /* 1..3, fd stays */
    if (read(fd, got + 10, 2) != 2) return 8;                       /* 12, 13 */
    v = (struct iovec){got + 12, 2};
    if (preadv2(fd, &v, 1, -1, 0) != 2) return 9;                   /* 14, 15, fd 16 */
    v = (struct iovec){got + 14, 2};
    if (preadv2(fd, &v, 1, 4, 0) != 2) return 10;                   /* 4, 5, fd stays */
    v = (struct iovec){zz, 2};
    if (pwritev(out, &v, 1, 30) != 2) return 11;                    /* out stays at 5 */
    v = (struct iovec){yy, 2};
    if (pwritev2(out, &v, 1, -1, 0) != 2) return 12;                /* out 7 */
    off = 0;
    if (sendfile(out, fd, &off, 2) != 2 || off != 2) return 13;     /* out 9, fd stays */
    if (read(fd, got + 16, 2) != 2) return 14;                      /* 16, 17 */
    off = 18;
    if (copy_file_range(fd, &off, out, NULL, 1, 0) != 1) return 15; /* out 10, fd stays */
    if (read(out, got + 18, 4) != 4) return 16;                     /* out's 10..13 */
    if (read(fd, got + 22, 1) != 1) return 17;                      /* 18 */
    /* O_APPEND: a write goes to the end (the scratch file is 32 bytes long now) and leaves
     * the offset there; pwrite appends too but leaves the offset alone, so a read next
     * reads what it appended. */
    int app = open(argv[2], O_RDWR | O_APPEND);
    if (app < 0) return 18;
    if (write(app, "!#", 2) != 2) return 19;                         /* 32, 33; app at 34 */
    if (pwrite(app, "$%&", 3, 0) != 3) return 20;                    /* 34..36 */
    if (read(app, got + 23, 3) != 3) return 21;                      /* "$%&" */
    if (sendfile(app, fd, NULL, 1) != -1 || errno != EINVAL) return 22; /* never appends */
    int set = open(argv[2], O_RDWR);                                 /* appending from fcntl */
    if (set < 0 || fcntl(set, F_SETFL, O_APPEND) != 0) return 23;
    if (write(set, "()", 2) != 2) return 24;                         /* 37, 38; set at 39 */
    if (pwrite(set, "*+", 2, 0) != 2) return 25;                     /* 39, 40 */
    if (read(set, got + 26, 2) != 2) return 26;                      /* "*+" */
    write(1, got, 28);
    return 0;
}
