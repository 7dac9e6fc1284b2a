/* Descriptor status and fd flags set the other ways: F_SETFL O_NONBLOCK, pipe2(O_NONBLOCK),
   the FIONBIO/FIOCLEX/FIONCLEX ioctls; a read of an empty non-blocking pipe says EAGAIN at
   once (it once waited forever); an ioctl a file does not know is ENOTTY. */
#include "conf.h"
#include <sys/ioctl.h>

int main(void) {
    int p[2], q[2], on;
    char b[8];
    T(pipe(p));
    T(fcntl(p[0], F_SETFL, O_NONBLOCK));
    T(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    T(read(p[0], b, sizeof b));
    on = 0;
    T(ioctl(p[0], FIONBIO, &on));
    T(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    T(write(p[1], "x", 1));
    T(read(p[0], b, sizeof b));
    on = 1;
    T(ioctl(p[0], FIONBIO, &on));
    T(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    T(read(p[0], b, sizeof b));
    T(pipe2(q, O_NONBLOCK | O_CLOEXEC));
    T(fcntl(q[0], F_GETFL) & O_NONBLOCK);
    T(fcntl(q[1], F_GETFD));
    T(read(q[0], b, sizeof b));
    T(pipe2(q, 0x40));
    T(ioctl(p[0], FIOCLEX));
    T(fcntl(p[0], F_GETFD));
    T(ioctl(p[0], FIONCLEX));
    T(fcntl(p[0], F_GETFD));
    int fd = T(open("f.txt", O_CREAT | O_RDWR | O_NONBLOCK, 0644));
    T(fcntl(fd, F_GETFL) & (O_NONBLOCK | O_ACCMODE));
    T(ioctl(fd, FIOCLEX));
    T(fcntl(fd, F_GETFD));
#ifdef __x86_64__ /* qemu-user answers ENOSYS to an ioctl it does not know: Linux's is ENOTTY */
    T(ioctl(fd, 0x1234, 0));
    T(ioctl(p[1], 0x1234, 0));
#endif
    T(fcntl(fd, F_SETFL, 0));
    T(fcntl(fd, F_GETFL) & (O_NONBLOCK | O_ACCMODE));
    return 0;
}
