/* Extended attributes (ls -l asks for them on every file): get, list, set and remove by path,
   by path without following a symlink, and by descriptor; buffer sizes; /proc's entries. */
#include "conf.h"
#include <sys/xattr.h>

int main(void) {
    char buf[256] = {0};
    int fd = T(open("f.txt", O_CREAT | O_RDWR, 0644));
    T(symlink("f.txt", "ln"));
    T(getxattr("f.txt", "user.a", buf, sizeof buf));
    T(lgetxattr("ln", "security.selinux", buf, sizeof buf));
    T(setxattr("f.txt", "user.a", "hello", 5, 0));
    T(setxattr("f.txt", "user.a", "x", 1, XATTR_CREATE));
    T(fsetxattr(fd, "user.bb", "0123456789", 10, 0));
    T(setxattr("f.txt", "user.c", "", 0, XATTR_REPLACE));
    T(getxattr("f.txt", "user.a", NULL, 0));
    T(getxattr("f.txt", "user.a", buf, 2));
    T(getxattr("ln", "user.a", buf, sizeof buf));
    SAY("value: %.5s\n", buf);
    T(fgetxattr(fd, "user.bb", buf, sizeof buf));
    SAY("value: %.10s\n", buf);
    T(lgetxattr("ln", "user.a", buf, sizeof buf));
    T(listxattr("f.txt", NULL, 0));
    memset(buf, 0, sizeof buf);
    ssize_t n = T(flistxattr(fd, buf, sizeof buf));
    for (ssize_t i = 0; i < n; i++) putchar(buf[i] ? buf[i] : '|');
    SAY("\n");
    T(llistxattr("ln", buf, sizeof buf));
    T(listxattr("f.txt", buf, 3));
    T(removexattr("f.txt", "user.a"));
    T(fremovexattr(fd, "user.a"));
    T(lremovexattr("ln", "user.bb"));
    T(getxattr("f.txt", "", buf, sizeof buf));
    T(getxattr("missing", "user.a", buf, sizeof buf));
    T(getxattr("missing", "", buf, sizeof buf));
    T(setxattr("missing", "user.a", "x", 1, 8));
    T(fgetxattr(99, "user.a", buf, sizeof buf));
    T(setxattr("f.txt", "user.a", "x", 1, 8));
    T(getxattr("/proc/self/status", "user.a", buf, sizeof buf));
    T(listxattr("/proc/self/status", buf, sizeof buf));
    int p = T(open("/proc/self/status", O_RDONLY));
    T(fgetxattr(p, "user.a", buf, sizeof buf));
    T(flistxattr(p, buf, sizeof buf));
    T(fsetxattr(p, "user.a", "x", 1, 0));
    T(unlink("ln"));
    return 0;
}
