/* Exits with status 3 via exit() after printing (stdio must be flushed). */
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    printf("about to exit(3)\n");
    exit(3);
}
