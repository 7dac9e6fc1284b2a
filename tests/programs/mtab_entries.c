/* The mount table through /etc/mtab (a symlink into /proc/self) with getmntent, and stat of
   /etc/mtab: what mount(8) and df read on a system without mountinfo support. */
#include <mntent.h>
#include <stdio.h>
#include <sys/stat.h>

int main(void) {
    struct stat st;
    int result = stat("/etc/mtab", &st);
    printf("stat /etc/mtab: %d, mode %o\n", result, (unsigned)st.st_mode);
    FILE *f = setmntent("/etc/mtab", "r");
    if (!f) {
        perror("setmntent /etc/mtab");
        return 1;
    }
    int n = 0;
    for (struct mntent *m; (m = getmntent(f)); n++)
        printf("%s %s %s %s\n", m->mnt_fsname, m->mnt_dir, m->mnt_type, m->mnt_opts);
    endmntent(f);
    printf("%d entries\n", n);
    return n == 0;
}
