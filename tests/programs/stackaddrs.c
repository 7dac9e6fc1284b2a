/* Prints where the kernel put the initial stack's pieces and the first heap block: the stack
 * pointer at entry (&argc), the argv, envp and auxv strings, AT_RANDOM's bytes, the auxv keys
 * in order, and the first malloc's address. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <unistd.h>

int main(int argc, char **argv, char **envp)
{
    void *first = malloc(16);
    printf("sp %p\n", (void *)(argv - 1));
    printf("argv[0] %p %s\n", (void *)argv[0], argv[0]);
    printf("argv[%d] %p\n", argc - 1, (void *)argv[argc - 1]);
    printf("envp[0] %p\n", envp[0] ? (void *)envp[0] : NULL);
    printf("AT_RANDOM %p\n", (void *)getauxval(AT_RANDOM));
    printf("AT_EXECFN %p %s\n", (void *)getauxval(AT_EXECFN), (char *)getauxval(AT_EXECFN));
    char *platform = (char *)getauxval(AT_PLATFORM);
    printf("AT_PLATFORM %p %s\n", (void *)platform, platform ? platform : "(none)");
    char **e = envp;
    while (*e)
        e++;
    printf("auxv %p:", (void *)(e + 1));
    for (unsigned long *a = (unsigned long *)(e + 1); a[0]; a += 2)
        printf(" %lu", a[0]);
    printf("\nfirst %p\nbrk %p\n", first, sbrk(0));
    return 0;
}
