/* Prints argc, every argv entry and the environment, in the order given. */
#include "common.h"
extern char **environ;
int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=[%s] len=%zu\n", i, argv[i], strlen(argv[i]));
    int n = 0;
    for (char **e = environ; e && *e; e++, n++)
        printf("env[%d]=[%s]\n", n, *e);
    printf("envc=%d\n", n);
    const char *v = getenv("CHIWAWA_TEST");
    printf("getenv(CHIWAWA_TEST)=%s\n", v ? v : "(null)");
    v = getenv("NOT_SET_ANYWHERE");
    printf("getenv(NOT_SET_ANYWHERE)=%s\n", v ? v : "(null)");
    return 0;
}
