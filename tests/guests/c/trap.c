/* Prints a line, then executes `unreachable`: the runtime must report a trap
 * (wasmtime run exits 134). */
#include <stdio.h>
int main(void) {
    printf("before trap\n");
    fflush(stdout);
    __builtin_trap();
}
