/* image.S: apps/hello's ELF file, as built, embedded whole for the
 * control domain to build at run time (tests/tests.mk makes this object
 * depend on build/apps/hello.elf). */
    .section .rodata
    .balign 4096
    .globl hello_image, hello_image_end
hello_image:
    .incbin "build/apps/hello.elf"
hello_image_end:
