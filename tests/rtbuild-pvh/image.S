/* image.S: tests/pvh's ELF file, as built, embedded whole for the
 * control domain to build at run time as a PVH domain (tests/tests.mk
 * makes this object depend on build/tests/pvh-test.elf). */
    .section .rodata
    .balign 4096
    .globl pvh_image, pvh_image_end
pvh_image:
    .incbin "build/tests/pvh-test.elf"
pvh_image_end:
