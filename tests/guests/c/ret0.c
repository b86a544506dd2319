/* Returns 0 from main. */
#include <stdio.h>
int main(void) {
    printf("returning 0 from main\n");
    return 0;
}
