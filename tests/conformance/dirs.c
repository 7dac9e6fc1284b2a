/* Directories: creation, listing (with . and .. inodes), renames, removal, cwd. */
#include "conf.h"
#include <dirent.h>
#include <linux/fs.h>
#include <sys/syscall.h>

static int by_name(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

static void list(const char *path) {
    DIR *d = opendir(path);
    if (!d) { SAY("opendir %s failed\n", path); return; }
    char *names[64]; int n = 0;
    struct stat dot = {0}, dotdot = {0}, self = {0}, parent = {0};
    char pp[256];
    snprintf(pp, sizeof pp, "%s/..", path);
    stat(path, &self); stat(pp, &parent);
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        if (!strcmp(e->d_name, ".")) dot.st_ino = e->d_ino;
        if (!strcmp(e->d_name, "..")) dotdot.st_ino = e->d_ino;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    SAY("%s:", path);
    for (int i = 0; i < n; i++) SAY(" %s", names[i]);
    SAY("\n. is itself: %d, .. is the parent: %d\n", dot.st_ino == self.st_ino,
        dotdot.st_ino == parent.st_ino);
}

int main(void) {
    T(mkdir("top", 0755));
    T(mkdir("top", 0755));
    T(mkdirat(AT_FDCWD, "top/sub", 0700));
    int dfd = T(open("top", O_RDONLY | O_DIRECTORY));
    T(mkdirat(dfd, "made-at", 0750));
    T(close(openat(dfd, "file-at", O_CREAT | O_WRONLY, 0644)));
    put("top/sub/inner", "x");
    list("top");
    T(rename("top/file-at", "top/renamed"));
    T(renameat(dfd, "renamed", dfd, "renamed-at"));
    put("top/other", "y");
    T(syscall(SYS_renameat2, dfd, "renamed-at", dfd, "other", RENAME_NOREPLACE));
    T(syscall(SYS_renameat2, dfd, "renamed-at", dfd, "other", RENAME_EXCHANGE));
    T(unlinkat(dfd, "other", 0));
    T(unlinkat(dfd, "made-at", 0));
    T(unlinkat(dfd, "made-at", AT_REMOVEDIR));
    T(rmdir("top/sub"));
    T(unlink("top/sub/inner"));
    T(rmdir("top/sub"));
    list("top");
    char cwd[512];
    T(chdir("top"));
    SAY("cwd ends in /top: %d\n", getcwd(cwd, sizeof cwd) && !strcmp(strrchr(cwd, '/'), "/top"));
    T(chdir(".."));
    T(fchdir(dfd));
    SAY("cwd ends in /top: %d\n", getcwd(cwd, sizeof cwd) && !strcmp(strrchr(cwd, '/'), "/top"));
    T(getcwd(cwd, 2) == NULL);
    T(chdir(".."));
    T(close(dfd));
    T(mkdir("kept", 0711));
    return 0;
}
