/* Symbolic and hard links: creation, reading, counts, lstat against stat. */
#include "conf.h"

int main(void) {
    struct stat st, lst;
    char buf[256];
    put("target", "linked content\n");
    T(symlink("target", "soft"));
    T(symlink("target", "soft"));
    T(symlinkat("missing-target", AT_FDCWD, "dangling"));
    ssize_t n = T(readlink("soft", buf, sizeof buf));
    SAY("soft -> %.*s\n", (int)n, buf);
    n = T(readlinkat(AT_FDCWD, "dangling", buf, 4));
    SAY("dangling (4 bytes) -> %.*s\n", (int)n, buf);
    T(readlink("target", buf, sizeof buf));
    T(link("target", "hard"));
    T(linkat(AT_FDCWD, "soft", AT_FDCWD, "hard-to-link", 0));
    T(linkat(AT_FDCWD, "soft", AT_FDCWD, "hard-followed", AT_SYMLINK_FOLLOW));
    T(stat("target", &st) == 0 ? (long)st.st_nlink : -2);
    T(lstat("hard-to-link", &lst) == 0 ? S_ISLNK(lst.st_mode) : -2);
    T(stat("soft", &st) == 0 && lstat("soft", &lst) == 0 && st.st_ino != lst.st_ino);
    T(lstat("soft", &lst) == 0 ? lst.st_size : -2);
    T(stat("dangling", &st));
    T(lstat("dangling", &st));
    T(unlink("hard"));
    T(stat("target", &st) == 0 ? (long)st.st_nlink : -2);
    T(fstatat(AT_FDCWD, "soft", &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode));
    return 0;
}
