/* hello.c: the smallest appliance: greets, echoes its arguments, powers off. */
#include <stdio.h>

int main(int argc, char **argv)
{
    printf("Hello, world\n");
    for (int i = 1; i < argc; i++)
        printf("argv[%d] = %s\n", i, argv[i]);
    return 0;
}
